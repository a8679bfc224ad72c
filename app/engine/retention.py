"""Retention (rules.md#retention): which old releases each front-end keeps.

Every module keeps on every front-end its live release, the release live before it (the
rollback target), any staged release and the ``keep`` newest others; ``keep`` is 3 unless
``prune --keep N`` set it for the environment. Runs prune what they switched as they go
(``farm``); the ``prune`` command (``kinds.prune``) goes over every module of every front-end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine.frontend.layout import release_id_for
from app.engine.frontend.target import ReleaseMeta
from app.engine.store.models import CompilationRow, ModuleRow, ModuleVersionRow, RunItemRow, RunRow
from app.engine.vocabulary import ItemStatus, RunKind

log = logging.getLogger(__name__)


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
        .where(
            RunRow.kind == RunKind.STAGE,
            RunItemRow.status == ItemStatus.STAGED,
            ModuleRow.deleted_at.is_(None),
            CompilationRow.artifact_sha256.is_not(None),
        )
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
