"""The ``prune`` command: the releases retention does not keep, removed from every enabled
front-end, or, with ``dry_run``, only listed with the bytes they would free (rules.md#retention).

It also removes (or lists) the work files interrupted calls left in module folders, which
``verify`` reports: with no run active and the writer lock held, no call can be working there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.engine.audit import audit, audited
from app.engine.context import EnvironmentContext
from app.engine.errors import BadInputError, Refusal, RefusedError
from app.engine.frontend import farm
from app.engine.frontend.registry import enabled, opened
from app.engine.frontend.target import FrontendError, FrontendTarget, Prune, SizedTarget
from app.engine.kinds.recovery import begin_operation
from app.engine.lookup import frontends_of_session
from app.engine.retention import doomed, rollback_targets, staged_releases
from app.engine.runs import records
from app.engine.store.models import ModuleRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrunedRelease:
    """One release ``prune`` removed (or, in a dry run, would remove)."""

    frontend: str
    module: str
    release_id: str
    size: int  # bytes

    def to_json(self) -> dict[str, Any]:
        return {"frontend": self.frontend, "module": self.module, "release": self.release_id, "bytes": self.size}


@dataclass(frozen=True)
class Leftover:
    """A work file an interrupted call left, that ``prune`` removed (in a dry run: would remove)."""

    frontend: str
    module: str
    path: str  # in the module folder

    def to_json(self) -> dict[str, Any]:
        return {"frontend": self.frontend, "module": self.module, "path": self.path}


@dataclass(frozen=True)
class PruneReport:
    keep: int
    dry_run: bool
    releases: tuple[PrunedRelease, ...]
    skipped: tuple[str, ...] = ()  # why a front-end was not pruned, one line each
    leftovers: tuple[Leftover, ...] = ()

    @property
    def size(self) -> int:
        return sum(release.size for release in self.releases)

    def to_json(self) -> dict[str, Any]:
        return {
            "keep": self.keep,
            "dry_run": self.dry_run,
            "releases": [release.to_json() for release in self.releases],
            "count": len(self.releases),
            "bytes": self.size,
            "skipped": list(self.skipped),
            "leftovers": [leftover.to_json() for leftover in self.leftovers],
        }


def prune(ctx: EnvironmentContext, keep: int | None = None, *, dry_run: bool = False) -> PruneReport:
    """Remove (``dry_run``: list) the releases retention does not keep on every enabled front-end.

    ``keep`` sets the environment's number of other releases kept from now on (not in a dry run).
    """
    if keep is not None and keep < 0:
        raise BadInputError("--keep must be 0 or more")
    with audited(ctx, "prune", "releases"), ctx.db.write() as session:
        env = begin_operation(session)
        active = records.active_runs(session)
        if active:
            raise RefusedError(
                f"prune refused: {records.RunRef.of(active[0]).describe()} is still active",
                Refusal.ACTIVE_RUN,
                run_id=active[0].id,
            )
        if keep is not None and not dry_run:
            env.keep_releases = keep
        chosen = (
            keep if keep is not None else (env.keep_releases if env.keep_releases is not None else farm.DEFAULT_KEEP)
        )
        names = list(
            session.scalars(select(ModuleRow.name).where(ModuleRow.deleted_at.is_(None)).order_by(ModuleRow.name))
        )
        protect: dict[str, set[str]] = {name: set(ids) for name, ids in staged_releases(session).items()}
        for name, previous in rollback_targets(session).items():
            protect.setdefault(name, set()).add(previous)
        found: list[PrunedRelease] = []
        skipped: list[str] = []
        left: list[Leftover] = []
        with opened(enabled(frontends_of_session(session))) as targets:
            for target in targets:
                try:
                    left += _leftovers_of(target, names, dry_run)
                except FrontendError as error:
                    skipped.append(f"front-end {target.name} was not cleared of leftovers: {error.message}")
                if not isinstance(target, SizedTarget):
                    why = (
                        f"front-end {target.name} ({target.location}) was not pruned: "
                        "it cannot measure its releases yet"
                    )
                    log.warning(why)
                    skipped.append(why)
                    continue
                try:
                    found += _prune_target(target, names, chosen, protect, dry_run)
                except FrontendError as error:
                    skipped.append(f"front-end {target.name} was not pruned: {error.message}")
        report = PruneReport(chosen, dry_run, tuple(found), tuple(skipped), tuple(left))
        detail = f"keep {chosen}: {len(found)} release(s), {report.size} bytes, {len(left)} leftover(s)"
        audit(session, "prune", "releases", "dry run" if dry_run else "done", detail)
        return report


def _leftovers_of(target: FrontendTarget, names: Sequence[str], dry_run: bool) -> list[Leftover]:
    """The work files interrupted calls left in these modules' folders; removed unless ``dry_run``."""
    found: list[Leftover] = []
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        listed = target.list_leftovers(chunk) if dry_run else target.remove_leftovers(chunk)
        found += [Leftover(target.name, module, path) for module, paths in listed.items() for path in paths]
    return found


def _prune_target(
    target: SizedTarget, names: Sequence[str], keep: int, protect: Mapping[str, set[str]], dry_run: bool
) -> list[PrunedRelease]:
    found: list[PrunedRelease] = []
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        metas = target.list_releases(chunk)
        live = target.read_current(chunk)
        going = {name: doomed(metas[name], live[name], keep, protect.get(name, ())) for name in chunk}
        going = {name: gone for name, gone in going.items() if gone}
        if not going:
            continue
        sizes = target.release_sizes(list(going))
        for name, gone in going.items():
            found += [
                PrunedRelease(target.name, name, meta.release_id, sizes[name].get(meta.release_id, 0)) for meta in gone
            ]
        if not dry_run:
            target.prune(
                [
                    Prune(
                        name, frozenset(meta.release_id for meta in metas[name]) - {meta.release_id for meta in gone}, 0
                    )
                    for name, gone in going.items()
                ]
            )
    return found
