"""The saved plan: one canonical JSON document whose ``plan_id`` is the sha256 of the rest.

A plan says what a run will do, module by module, as the kind's own planner decided it (the same
planner a run and ``--dry-run`` use), with everything that decision depends on: the platform,
the front-ends and the run's options. Running it later re-plans and compares: any difference
is a change since, named here one by one. The file is the document in canonical form (sorted
keys, no spaces); a file that was edited no longer matches its ``plan_id``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.control.entry import SKIP, PlanEntry, PlannedPayload
from app.engine.errors import BadInputError
from app.engine.frontend.registry import Frontend
from app.engine.runs.options import RunOptions
from app.engine.runs.records import NewItem
from app.engine.runs.work import WorkItem
from app.engine.store.models import ModuleRow
from app.engine.vocabulary import ItemStatus, RunKind

FORMAT = 1
# What a plan's run depends on: a difference in any of these since the plan was made is a change.
COMPARED = ("environment", "platform_version", "frontends", "target", "options", "items")
_SHOWN_CHANGES = 8  # changes the one-line refusal names; the JSON error lists them all
SHORT_ID = 12  # hex digits of a plan_id that people read and type


def short_id(plan_id: str) -> str:
    return plan_id[:SHORT_ID]


@dataclass(frozen=True)
class PlanTarget:
    """What a planned run works on: a run to roll back, chosen modules, or (neither) every module."""

    run: int | None = None
    modules: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "modules": None if self.modules is None else list(self.modules)}

    @classmethod
    def from_json(cls, value: Any) -> PlanTarget:
        if not isinstance(value, dict):
            raise BadInputError("the plan's target does not read")
        run, modules = value.get("run"), value.get("modules")
        if run is not None and not isinstance(run, int):
            raise BadInputError("the plan's target run does not read")
        if modules is not None and not (isinstance(modules, list) and all(isinstance(m, str) for m in modules)):
            raise BadInputError("the plan's target modules do not read")
        return cls(run, None if modules is None else tuple(modules))

    def describe(self) -> str:
        if self.run is not None:
            return f"run {self.run}"
        if self.modules is None:
            return "all modules"
        shown = ", ".join(self.modules[:3]) + (f" and {len(self.modules) - 3} more" if len(self.modules) > 3 else "")
        return f"{len(self.modules)} module(s): {shown}"


@dataclass(frozen=True)
class PlanDocument:
    """A saved plan as its file holds it; ``content`` is everything but ``plan_id``."""

    content: Mapping[str, Any]
    plan_id: str

    @classmethod
    def of(cls, content: Mapping[str, Any]) -> PlanDocument:
        return cls(content, hashlib.sha256(canonical(content)).hexdigest())

    @property
    def short_id(self) -> str:
        return short_id(self.plan_id)

    @property
    def kind(self) -> RunKind:
        return RunKind(self.content["kind"])

    @property
    def target(self) -> PlanTarget:
        return PlanTarget.from_json(self.content["target"])

    @property
    def options(self) -> RunOptions:
        return RunOptions.from_json(self.content["options"])

    @property
    def items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.content["items"]
        return items

    @property
    def changes(self) -> int:
        """Items that change a front-end: every one not skipped."""
        return sum(item["action"] != SKIP for item in self.items)

    def to_json(self) -> dict[str, Any]:
        return {**self.content, "plan_id": self.plan_id}

    @cached_property
    def file_bytes(self) -> bytes:
        """The file's bytes, spelled once (a plan of 10,000 modules is megabytes)."""
        return canonical(self.to_json()) + b"\n"


def canonical(value: Any) -> bytes:
    """The one spelling of a JSON value: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def read_plan_file(path: Path) -> PlanDocument:
    """A plan file as ``--plan-out`` wrote it; bad input when it cannot be read, is not JSON, or
    does not match its ``plan_id`` (it was edited)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInputError(f"cannot read plan file {path}: {error.strerror or error}") from None
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BadInputError(f"plan file {path} is not JSON; give a file that --plan-out wrote") from None
    if not isinstance(document, dict) or not isinstance(document.get("plan_id"), str):
        raise BadInputError(f"plan file {path} is not a saved plan (it has no plan_id)")
    content = {key: value for key, value in document.items() if key != "plan_id"}
    plan = PlanDocument.of(content)
    if plan.plan_id != document["plan_id"]:
        raise BadInputError(
            f"plan file {path} does not match its plan_id: it was changed after it was saved; save a new plan"
        )
    _check_shape(plan, path)
    return plan


def _check_shape(plan: PlanDocument, path: Path) -> None:
    """A plan whose hash matches can still be one no version of this program wrote."""
    content = plan.content
    try:
        kind = plan.kind
        plan.target  # noqa: B018  (reading it checks it)
        plan.options  # noqa: B018
        well_formed = (
            content.get("format") == FORMAT
            and all(key in content for key in COMPARED)
            and isinstance(content["items"], list)
            and all(isinstance(item, dict) and isinstance(item.get("module"), str) for item in content["items"])
        )
    except (KeyError, ValueError, TypeError, BadInputError):
        well_formed = False
    if not well_formed:
        raise BadInputError(f"plan file {path} is not a plan this version of Deploy Center can run")
    if not kind.traits.planned:
        raise BadInputError(f"plan file {path} is for a {kind} run, which does not run from a saved plan")


def plan_items(session: Session, items: Sequence[NewItem], work_items: Sequence[WorkItem[Any]]) -> list[dict[str, Any]]:
    """Every item of a planned run, as the plan states it: what the run will do to each module.

    A skipped module keeps the release it runs now, so its ``release`` is that one: a module that
    another run moved since changes the plan.
    """
    entries: dict[int, PlanEntry] = {}
    for work in work_items:
        payload: PlannedPayload = work.payload  # a protocol check per item would cost more than the entry
        entries[work.module_id] = payload.plan_entry()
    live = _live_releases(session, [item.module_id for item in items if item.module_id not in entries])
    described = []
    for item in items:
        entry = entries.get(item.module_id)
        if entry is None or item.status == ItemStatus.SKIPPED:
            entry = PlanEntry(SKIP, live.get(item.module_id), None, None)
        described.append(
            {
                "module": item.module_name,
                "version": item.version,
                "action": entry.action,
                "release": entry.release,
                "artifact_sha256": entry.artifact_sha256,
                "config_sha256": entry.config_sha256,
                "reason": item.reason if entry.action == SKIP else None,
            }
        )
    return described


def _live_releases(session: Session, module_ids: Sequence[int]) -> dict[int, str | None]:
    found: dict[int, str | None] = {}
    for start in range(0, len(module_ids), 5000):
        chunk = module_ids[start : start + 5000]
        rows = session.execute(select(ModuleRow.id, ModuleRow.deployed_release).where(ModuleRow.id.in_(chunk)))
        found.update({module_id: release for module_id, release in rows})
    return found


def frontends_of_plan(frontends: Sequence[Frontend]) -> list[dict[str, Any]]:
    """Every front-end, enabled or not: one added, enabled or disabled since changes the plan."""
    return [
        {"name": frontend.name, "location": frontend.location, "kind": str(frontend.kind), "enabled": frontend.enabled}
        for frontend in frontends
    ]


def changes_between(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """What differs between a saved plan and the same plan made now, one phrase per change."""
    changes: list[str] = []
    if saved.get("environment") != now.get("environment"):
        changes.append("the plan was made for another environment")
    if saved.get("platform_version") != now.get("platform_version"):
        changes.append(f"platform {saved.get('platform_version')} -> {now.get('platform_version')} (an upgrade)")
    changes += _frontend_changes(saved.get("frontends") or [], now.get("frontends") or [])
    for key in ("target", "options"):
        if saved.get(key) != now.get(key):
            changes.append(f"{key} {canonical(saved.get(key)).decode()} -> {canonical(now.get(key)).decode()}")
    changes += _item_changes(saved.get("items") or [], now.get("items") or [])
    return changes


def _frontend_changes(saved: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[str]:
    before = {frontend["name"]: frontend for frontend in saved}
    after = {frontend["name"]: frontend for frontend in now}
    changes = [f"front-end {name} added" for name in after if name not in before]
    changes += [f"front-end {name} removed" for name in before if name not in after]
    for name in before.keys() & after.keys():
        old, new = before[name], after[name]
        if old.get("enabled") != new.get("enabled"):
            changes.append(f"front-end {name} {'enabled' if new.get('enabled') else 'disabled'}")
        if old.get("location") != new.get("location"):
            changes.append(f"front-end {name} moved to {new.get('location')}")
    return sorted(changes)


def _item_changes(saved: list[dict[str, Any]], now: list[dict[str, Any]]) -> list[str]:
    before = {item["module"].casefold(): item for item in saved}
    after = {item["module"].casefold(): item for item in now}
    changes: list[str] = []
    for key, old in before.items():
        new = after.get(key)
        if new is None:
            changes.append(f"{old['module']}: no longer in the plan (deleted, or no longer chosen)")
        elif new != old:
            changes.append(f"{old['module']}: {_item_change(old, new)}")
    changes += [
        f"{item['module']}: new since the plan ({item['action']})" for key, item in after.items() if key not in before
    ]
    return changes


def _item_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    parts = []
    if old.get("action") != new.get("action"):
        why = f" ({new['reason']})" if new.get("reason") else ""
        parts.append(f"{old.get('action')} -> {new.get('action')}{why}")
    if old.get("version") != new.get("version"):
        parts.append(f"version {old.get('version')} -> {new.get('version')} (published since)")
    if old.get("release") != new.get("release"):
        parts.append(f"release {old.get('release') or 'none'} -> {new.get('release') or 'none'}")
    configs = (old.get("config_sha256"), new.get("config_sha256"))
    if None not in configs and configs[0] != configs[1]:
        parts.append("configuration applied since")
    if not parts and old.get("reason") != new.get("reason"):
        parts.append(f"skipped for {new.get('reason')}, was {old.get('reason')}")
    return "; ".join(parts) or "changed"


def stale_message(plan: PlanDocument, changes: Sequence[str]) -> str:
    """The one-line refusal of a stale plan, naming the first changes."""
    shown = "; ".join(changes[:_SHOWN_CHANGES])
    more = f"; and {len(changes) - _SHOWN_CHANGES} more" if len(changes) > _SHOWN_CHANGES else ""
    return (
        f"plan {plan.short_id} is stale: the environment changed since it was made ({shown}{more}); "
        "save a new plan with --plan-out"
    )
