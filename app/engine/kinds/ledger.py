"""What the run kinds record when modules compile or go live: a few bulk statements per batch."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from app.engine.frontend.registry import Frontend
from app.engine.identity import utcnow
from app.engine.runs.records import table_of
from app.engine.store.models import CompilationRow, DeploymentRow, ModuleRow

if TYPE_CHECKING:  # the compiler is not needed to record what it did
    from app.engine.compiler import CompileOutcome


@dataclass(frozen=True)
class Deployed:
    compilation_id: int
    release_id: str


def record_deployments(
    session: Session,
    frontends: Sequence[Frontend],
    deployed: Sequence[tuple[int, Deployed]],
    run_id: int | None,
) -> None:
    """Mark modules (by id) as live with their release, and add the per-front-end history rows.

    Core executemany statements: the ORM's bulk statements did per-row bookkeeping (about a third
    of the coordinator's time recording a big run). Modules already loaded in ``session`` have the
    changed attributes expired, so that what the session shows stays true.
    """
    if not deployed:
        return
    now = utcnow()
    modules = table_of(ModuleRow)
    session.execute(
        update(modules).where(modules.c.id == bindparam("module_id")),
        [
            {
                "module_id": module_id,
                "deployed_compilation_id": d.compilation_id,
                "deployed_release": d.release_id,
                "deployed_at": now,
            }
            for module_id, d in deployed
        ],
    )
    session.execute(
        insert(table_of(DeploymentRow)),
        [
            {
                "module_id": module_id,
                "frontend_id": fe.id,
                "compilation_id": d.compilation_id,
                "release_id": d.release_id,
                "run_id": run_id,
                "deployed_at": now,
            }
            for module_id, d in deployed
            for fe in frontends
        ],
    )
    if session.identity_map:
        for module_id, _d in deployed:
            loaded = session.identity_map.get(identity_key(ModuleRow, module_id))
            if loaded is not None:
                session.expire(loaded, _DEPLOYED_COLUMNS)


_DEPLOYED_COLUMNS = ["deployed_compilation_id", "deployed_release", "deployed_at"]


@dataclass(frozen=True)
class Compiled:
    version_id: int
    outcome: CompileOutcome


class ProducerBook:
    """Whether each module name compiled for the platform: from the database, then this run."""

    def __init__(self, known: Mapping[str, bool]) -> None:
        self._status = {name.casefold(): ok for name, ok in known.items()}
        self._lock = threading.Lock()

    def producers_named(self, names: Sequence[str]) -> dict[str, bool | None]:
        with self._lock:
            return {name: self._status.get(name.casefold()) for name in names}

    def note(self, name: str, succeeded: bool) -> None:
        with self._lock:
            self._status[name.casefold()] = succeeded


def known_compilations(session: Session, platform: str) -> dict[str, bool]:
    """Every live module's latest-version compilation state for ``platform`` (False if none)."""
    rows = session.execute(
        select(ModuleRow.name, CompilationRow.succeeded)
        .outerjoin(
            CompilationRow,
            (CompilationRow.module_version_id == ModuleRow.latest_version_id)
            & (CompilationRow.platform_version == platform),
        )
        .where(ModuleRow.deleted_at.is_(None))
    )
    return {name: bool(ok) for name, ok in rows}


def record_compilations(session: Session, compiled: Sequence[Compiled], platform: str) -> dict[int, int]:
    """Insert, or replace failed earlier attempts of, these versions' compilations for ``platform``.

    Returns the compilation id of each module version id. A few statements whatever the count.
    """
    now = utcnow()
    rows = {
        c.version_id: {
            "module_version_id": c.version_id,
            "platform_version": platform,
            "succeeded": c.outcome.succeeded,
            "reason": c.outcome.reason,
            "artifact_sha256": c.outcome.artifact_sha256,
            "artifact_size": c.outcome.artifact_size,
            "compiled_at": now,
        }
        for c in compiled
    }
    ids: dict[int, int] = {}
    version_ids = list(rows)
    for start in range(0, len(version_ids), _CHUNK):
        chunk = version_ids[start : start + _CHUNK]
        found = session.execute(
            select(CompilationRow.module_version_id, CompilationRow.id).where(
                CompilationRow.module_version_id.in_(chunk), CompilationRow.platform_version == platform
            )
        )
        ids.update((version_id, compilation_id) for version_id, compilation_id in found)
    if ids:
        session.execute(update(CompilationRow), [{"id": ids[v], **rows[v]} for v in ids])
    new = [rows[v] for v in version_ids if v not in ids]
    if new:
        inserted = session.execute(
            insert(CompilationRow).returning(
                CompilationRow.module_version_id, CompilationRow.id, sort_by_parameter_order=True
            ),
            new,
        )
        ids.update((version_id, compilation_id) for version_id, compilation_id in inserted)
    return ids


_CHUNK = 5000  # ids per IN (...): well under every backend's limit on bound parameters
