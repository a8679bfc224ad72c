"""Deciding, per module, whether a deploy run deploys it or skips it, and why (rules 1 and 2)."""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from app.engine.store.models import CompilationRow, ModuleRow, ModuleVersionRow

DEPLOY = "deploy"
SKIP = "skip"
COMPILATION_FAILED = "compilation-failed"
ALREADY_DEPLOYED = "already-deployed"
NOT_PREPARED = "not-prepared"
SKIP_REASONS = (COMPILATION_FAILED, ALREADY_DEPLOYED, NOT_PREPARED)


class PlanItem(NamedTuple):
    """One module's decision. A named tuple: a plan of 100,000 modules builds in a blink."""

    module_id: int
    module: str
    application: str
    version: int
    compilation_id: int | None
    artifact_sha256: str | None
    depends: tuple[str, ...]
    action: str
    reason: str | None = None
    detail: str | None = None

    @property
    def deploys(self) -> bool:
        return self.action == DEPLOY


@dataclass(frozen=True)
class DeployPlan:
    platform_version: str
    items: tuple[PlanItem, ...]

    @property
    def to_deploy(self) -> tuple[PlanItem, ...]:
        return tuple(item for item in self.items if item.deploys)

    def skipped_by_reason(self) -> dict[str, int]:
        counts = dict.fromkeys(SKIP_REASONS, 0)
        for item in self.items:
            if item.reason in counts:
                counts[item.reason] += 1
        return counts


class DeployAllPlanner:
    """Reads every live module with its latest version and current-platform compilation at once.

    One query whatever the number of modules: planning 100,000 modules must stay interactive.
    """

    def __init__(self, session: Session, platform_version: str) -> None:
        self._session = session
        self._platform = platform_version

    def plan(self, module_ids: Collection[int] | None = None) -> DeployPlan:
        query = (
            select(
                ModuleRow.id,
                ModuleRow.name,
                ModuleRow.application,
                ModuleRow.deployed_compilation_id,
                ModuleVersionRow.number,
                ModuleVersionRow.depends,
                CompilationRow.id,
                CompilationRow.succeeded,
                CompilationRow.reason,
                CompilationRow.artifact_sha256,
            )
            .join(ModuleVersionRow, ModuleVersionRow.id == ModuleRow.latest_version_id)
            .outerjoin(
                CompilationRow,
                and_(
                    CompilationRow.module_version_id == ModuleVersionRow.id,
                    CompilationRow.platform_version == self._platform,
                ),
            )
            .where(ModuleRow.deleted_at.is_(None))
            .order_by(ModuleRow.application, ModuleRow.name)
        )
        if module_ids is not None:
            query = query.where(ModuleRow.id.in_(list(module_ids)))
        # Core rows, not ORM loading: the plan reads plain columns and must stay fast at 100,000.
        rows = self._session.connection().execute(query)
        with gc_paused():
            items = tuple(_decide(*row) for row in rows)
        return DeployPlan(self._platform, items)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Building 100,000 small tuples makes the cycle collector rescan them dozens of times,
    which costs as much as the query; they hold no cycles, so it can wait until the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _decide(
    module_id: int,
    name: str,
    application: str,
    deployed_compilation_id: int | None,
    version: int,
    depends: str,
    compilation_id: int | None,
    succeeded: bool | None,
    failure: str | None,
    artifact_sha256: str | None,
) -> PlanItem:
    producers = tuple(depends.split(",")) if depends else ()
    if compilation_id is None:
        action, reason, detail = SKIP, NOT_PREPARED, "no compilation for this platform version yet"
    elif not succeeded:
        action, reason, detail = SKIP, COMPILATION_FAILED, failure
    elif deployed_compilation_id == compilation_id:
        action, reason, detail = SKIP, ALREADY_DEPLOYED, "this compilation is already live"
    else:
        action, reason, detail = DEPLOY, None, None
    return PlanItem(
        module_id, name, application, version, compilation_id, artifact_sha256, producers, action, reason, detail
    )
