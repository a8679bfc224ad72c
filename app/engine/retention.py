"""Retention (section 8.4): which old releases each front-end keeps, and ``prune``.

Every module keeps on every front-end its live release, the release live before it (the
rollback target), any staged release and the ``keep`` newest others; ``keep`` is 3 unless
``prune --keep N`` set it for the environment. Runs prune what they switched as they go
(``farm``); ``prune`` goes over every module of every enabled front-end, and with ``dry_run``
only reports what would go and the bytes it would free.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine.audit import audit, audited
from app.engine.context import EnvironmentContext
from app.engine.errors import BadInputError, RefusedError
from app.engine.frontend import farm
from app.engine.frontend.layout import release_id_for
from app.engine.frontend.registry import enabled, opened
from app.engine.frontend.target import FrontendError, Prune, ReleaseMeta, SizedTarget
from app.engine.kinds.recovery import begin_operation
from app.engine.lookup import frontends_of_session
from app.engine.runs import records
from app.engine.store.models import CompilationRow, ModuleRow, ModuleVersionRow, RunItemRow, RunRow
from app.engine.vocabulary import ItemStatus, RunKind

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
class PruneReport:
    keep: int
    dry_run: bool
    releases: tuple[PrunedRelease, ...]
    skipped: tuple[str, ...] = ()  # why a front-end was not pruned, one line each

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
        }


def doomed(metas: Sequence[ReleaseMeta], live: str | None, keep: int, protect: Iterable[str] = ()) -> list[ReleaseMeta]:
    """The releases of one module on one front-end that retention does not keep, oldest first.

    ``metas`` are oldest first (``ReleaseMeta.order``). Kept: ``live``, ``protect``, the newest
    release older than the live one (live before it), every release newer than the live one
    (staged since), and the ``keep`` newest of the rest. A module not live keeps everything.
    """
    if live is None or not any(meta.release_id == live for meta in metas):
        return []
    live_order = next(meta.order for meta in metas if meta.release_id == live)
    kept = {live, *protect}
    older = [meta for meta in metas if meta.order < live_order and meta.release_id != live]
    if older:
        kept.add(older[-1].release_id)
    kept.update(meta.release_id for meta in metas if meta.order > live_order)
    rest = [meta for meta in metas if meta.release_id not in kept]
    return rest[: max(len(rest) - keep, 0)]


def staged_releases(session: Session, module_ids: Sequence[int] | None = None) -> dict[str, frozenset[str]]:
    """By module name: the releases stage runs left on the front-ends that are not live yet."""
    query = (
        select(ModuleRow.name, ModuleVersionRow.number, CompilationRow.platform_version, CompilationRow.artifact_sha256)
        .select_from(RunItemRow)
        .join(RunRow, RunRow.id == RunItemRow.run_id)
        .join(ModuleRow, ModuleRow.id == RunItemRow.module_id)
        .join(CompilationRow, CompilationRow.id == RunItemRow.compilation_id)
        .join(ModuleVersionRow, ModuleVersionRow.id == CompilationRow.module_version_id)
        .where(RunRow.kind == RunKind.STAGE, RunItemRow.status == ItemStatus.STAGED, ModuleRow.deleted_at.is_(None),
               CompilationRow.artifact_sha256.is_not(None))
    )
    if module_ids is not None:
        query = query.where(RunItemRow.module_id.in_(list(module_ids)))
    found: dict[str, set[str]] = {}
    for name, version, platform, sha in session.execute(query):
        found.setdefault(name, set()).add(release_id_for(version, platform, str(sha)))
    return {name: frozenset(ids) for name, ids in found.items()}


def rollback_targets(session: Session) -> dict[str, str]:
    """By module name: the release its latest deploy replaced, as the record says."""
    latest = (
        select(func.max(RunItemRow.id))
        .where(RunItemRow.status == ItemStatus.DEPLOYED, RunItemRow.previous_release.is_not(None))
        .group_by(RunItemRow.module_id)
    )
    rows = session.execute(
        select(ModuleRow.name, RunItemRow.previous_release)
        .join(ModuleRow, ModuleRow.id == RunItemRow.module_id)
        .where(RunItemRow.id.in_(latest), ModuleRow.deleted_at.is_(None))
    )
    return {name: previous for name, previous in rows if previous is not None}


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
            raise RefusedError(f"prune refused: {records.RunRef.of(active[0]).describe()} is still active")
        if keep is not None and not dry_run:
            env.keep_releases = keep
        chosen = keep if keep is not None else (env.keep_releases if env.keep_releases is not None
                                                  else farm.DEFAULT_KEEP)
        names = list(session.scalars(
            select(ModuleRow.name).where(ModuleRow.deleted_at.is_(None)).order_by(ModuleRow.name)
        ))
        protect: dict[str, set[str]] = {name: set(ids) for name, ids in staged_releases(session).items()}
        for name, previous in rollback_targets(session).items():
            protect.setdefault(name, set()).add(previous)
        found: list[PrunedRelease] = []
        skipped: list[str] = []
        with opened(enabled(frontends_of_session(session))) as targets:
            for target in targets:
                if not isinstance(target, SizedTarget):
                    why = (f"front-end {target.name} ({target.location}) was not pruned: "
                           "it cannot measure its releases yet")
                    log.warning(why)
                    skipped.append(why)
                    continue
                try:
                    found += _prune_target(target, names, chosen, protect, dry_run)
                except FrontendError as error:
                    skipped.append(f"front-end {target.name} was not pruned: {error.message}")
        report = PruneReport(chosen, dry_run, tuple(found), tuple(skipped))
        detail = f"keep {chosen}: {len(found)} release(s), {report.size} bytes"
        audit(session, "prune", "releases", "dry run" if dry_run else "done", detail)
        return report


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
            found += [PrunedRelease(target.name, name, meta.release_id, sizes[name].get(meta.release_id, 0))
                      for meta in gone]
        if not dry_run:
            target.prune([
                Prune(name, frozenset(meta.release_id for meta in metas[name]) - {meta.release_id for meta in gone}, 0)
                for name, gone in going.items()
            ])
    return found
