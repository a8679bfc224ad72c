"""Run lifecycle and locks: who may start what, liveness of run owners, cancel and recovery.

Everything here runs inside a writer transaction (``Database.write``), which serializes every
process working on the environment, so a check and the lock it leads to cannot interleave.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.engine.errors import Refusal, RefusedError, StateError
from app.engine.identity import current_user, host_name, iso, process_alive, utcnow
from app.engine.runs.options import PLAIN_RUN, RunOptions
from app.engine.store.database import leave_note
from app.engine.store.models import EnvironmentRow, ModuleLockRow, ModuleRow, RunItemRow, RunRow
from app.engine.vocabulary import (
    FINISHED_ITEM_STATUSES,
    ItemStatus,
    RunKind,
    RunStatus,
)
from app.engine.webhooks.outbox import WebhookEvent, enqueue

log = logging.getLogger(__name__)

# Told to ``Database.on_commit`` listeners once a run's end is committed (the metrics file).
RUN_ENDED = "run-ended"
# A run that ended in one of these also sends ``run-failed``: it did not do all it was asked.
FAILED_RUN_STATUSES = frozenset({RunStatus.FAILED, RunStatus.INTERRUPTED})

# A run whose owner has not written a heartbeat for this long is taken as dead.
STALE_AFTER = timedelta(seconds=10)
HEARTBEAT_INTERVAL = 2.0
# The item statuses every run's counts show (``runs --json``), whether or not it has any.
COUNTED_ITEM_STATUSES = (
    ItemStatus.PENDING,
    ItemStatus.DEPLOYING,
    ItemStatus.DEPLOYED,
    ItemStatus.STAGED,
    ItemStatus.FAILED,
    ItemStatus.BLOCKED,
    ItemStatus.SKIPPED,
    ItemStatus.CANCELLED,
)


@dataclass(frozen=True)
class RunRef:
    """A run as errors and views name it."""

    id: int
    kind: RunKind
    started_by: str
    started_at: datetime

    @classmethod
    def of(cls, run: RunRow) -> RunRef:
        return cls(run.id, RunKind(run.kind), run.started_by, run.started_at)

    def describe(self) -> str:
        when = self.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"run {self.id} ({self.kind}) started by {self.started_by} at {when}"


@dataclass(frozen=True)
class NewItem:
    module_id: int
    module_name: str
    application: str
    version: int | None
    compilation_id: int | None
    status: ItemStatus = ItemStatus.PENDING
    reason: str | None = None
    message: str | None = None


def serialize_writers(session: Session) -> EnvironmentRow:
    """Read the environment row, locked for update.

    ``Database.write`` already serialized this transaction against every other writer (SQLite's
    ``BEGIN IMMEDIATE``, PostgreSQL's advisory lock); the row lock also holds off other clients.
    """
    env = session.scalars(select(EnvironmentRow).with_for_update()).first()
    if env is None:
        raise StateError("no environment here yet; run 'init' first")
    return env


def environment(session: Session) -> EnvironmentRow:
    """The environment row, for reading; ``StateError`` when there is none yet."""
    env = session.get(EnvironmentRow, 1)
    if env is None:
        raise StateError("no environment here yet; run 'init' first")
    return env


def why_dead(run: RunRow) -> str | None:
    """Why the owner of a running run is taken as dead, or None while it looks alive."""
    here = host_name()
    if run.owner_host == here and run.owner_pid == os.getpid():
        return None  # our own run, alive by definition
    if run.owner_host == here and not process_alive(run.owner_pid):
        return f"its process {run.owner_pid} on {run.owner_host} ended"
    if utcnow() - run.heartbeat_at > STALE_AFTER:
        return f"no sign of life from {run.owner_host} since {run.heartbeat_at:%H:%M:%S} UTC"
    return None


def has_stale_runs(session: Session) -> bool:
    return any(why_dead(run) for run in active_runs(session))


def close_run(session: Session, run: RunRow, status: RunStatus, message: str | None = None) -> None:
    """End a run: settle unfinished items, free its locks, record when."""
    now = utcnow()
    interrupted = status == RunStatus.INTERRUPTED
    session.execute(
        update(RunItemRow)
        .where(RunItemRow.run_id == run.id, RunItemRow.status == ItemStatus.DEPLOYING)
        .values(
            status=ItemStatus.FAILED if interrupted else ItemStatus.CANCELLED,
            reason="interrupted" if interrupted else "cancelled",
            message="the run stopped while this module was in progress",
            finished_at=now,
        )
    )
    session.execute(
        update(RunItemRow)
        .where(RunItemRow.run_id == run.id, RunItemRow.status == ItemStatus.PENDING)
        .values(status=ItemStatus.CANCELLED, reason="cancelled", finished_at=now)
    )
    session.execute(delete(ModuleLockRow).where(ModuleLockRow.run_id == run.id))
    run.status = status
    run.finished_at = now
    if message:
        run.message = message
    # In this transaction: the run's end and the events that report it commit together.
    announce(session, run, WebhookEvent.RUN_FINISHED)
    if status in FAILED_RUN_STATUSES:
        announce(session, run, WebhookEvent.RUN_FAILED)
    leave_note(session, RUN_ENDED)


def active_runs(session: Session) -> list[RunRow]:
    return list(session.scalars(select(RunRow).where(RunRow.status == RunStatus.RUNNING).order_by(RunRow.id)))


def refuse_if_exclusive_active(session: Session, kind: RunKind) -> None:
    """One Deploy All or upgrade at a time, and nothing at all beside an upgrade (``KindTraits``).

    A Deploy All also waits for single deploys and publishes, which hold modules it would take.
    """
    for run in active_runs(session):
        if kind.traits.exclusive or RunKind(run.kind).traits.runs_alone:
            raise RefusedError(
                f"cannot start {kind}: {RunRef.of(run).describe()} is still active", Refusal.ACTIVE_RUN, run_id=run.id
            )


def refuse_if_locked(session: Session, module_ids: Iterable[int], operation: str) -> None:
    """Rule 4: refuse an operation on a module that an active run holds."""
    ids = list(module_ids)
    if not ids:
        return
    row = session.execute(
        select(ModuleRow.name, RunRow)
        .join(ModuleLockRow, ModuleLockRow.module_id == ModuleRow.id)
        .join(RunRow, RunRow.id == ModuleLockRow.run_id)
        .where(ModuleRow.id.in_(ids))
        .order_by(ModuleRow.name)
        .limit(1)
    ).first()
    if row is not None:
        name, run = row
        raise RefusedError(
            f"{operation} of module {name} refused: it is being deployed by {RunRef.of(run).describe()}",
            Refusal.LOCK,
            run_id=run.id,
        )


def create_run(
    session: Session,
    kind: RunKind,
    platform_version: str,
    items: Sequence[NewItem],
    workers: int,
    *,
    options: RunOptions = PLAIN_RUN,
) -> RunRow:
    """Record a new run and lock every module it will work on (not the skipped ones).

    Each item also records what was live for its module then: a rollback of the run goes back
    to it (rules.md#rollback).
    """
    now = utcnow()
    run = RunRow(
        kind=kind,
        status=RunStatus.RUNNING,
        platform_version=platform_version,
        started_by=current_user(),
        started_at=now,
        owner_host=host_name(),
        owner_pid=os.getpid(),
        heartbeat_at=now,
        cancel_requested=False,
        workers=workers,
        rolling=options.rolling,
        soak=options.soak or None,
        max_failures=None if options.max_failures is None else str(options.max_failures),
    )
    session.add(run)
    session.flush()
    # Core bulk inserts: a run of 100,000 modules is recorded in two statements, not as objects.
    if items:
        session.execute(
            insert(table_of(RunItemRow)),
            [
                {
                    "run_id": run.id,
                    "position": position,
                    "module_id": item.module_id,
                    "module_name": item.module_name,
                    "application": item.application,
                    "version": item.version,
                    "compilation_id": item.compilation_id,
                    "status": item.status,
                    "reason": item.reason,
                    "message": item.message,
                    "finished_at": now if item.status in FINISHED_ITEM_STATUSES else None,
                }
                for position, item in enumerate(items)
            ],
        )
        live = select(ModuleRow.deployed_release).where(ModuleRow.id == RunItemRow.module_id).scalar_subquery()
        compiled = (
            select(ModuleRow.deployed_compilation_id).where(ModuleRow.id == RunItemRow.module_id).scalar_subquery()
        )
        session.execute(
            update(RunItemRow)
            .where(RunItemRow.run_id == run.id)
            .values(previous_release=live, previous_compilation_id=compiled)
            .execution_options(synchronize_session=False)
        )
    locked = [
        {"module_id": item.module_id, "run_id": run.id} for item in items if item.status not in FINISHED_ITEM_STATUSES
    ]
    if locked:
        session.execute(insert(table_of(ModuleLockRow)), locked)
    session.flush()
    announce(session, run, WebhookEvent.RUN_STARTED)
    return run


def announce(session: Session, run: RunRow, event: WebhookEvent) -> None:
    """Record ``event`` about ``run`` for the webhooks that want it, as ``runs --json`` shows the run.

    An event that cannot be made (a bug) is logged, never allowed to stop the run's own record;
    a database error is the transaction's own and goes on to its writer.
    """
    try:
        enqueue(session, event, lambda: run_event_data(session, run), subject=f"run {run.id}")
    except SQLAlchemyError:
        raise
    except Exception:
        log.exception("run %s: the %s event could not be recorded", run.id, event)


def run_event_data(session: Session, run: RunRow) -> dict[str, Any]:
    session.flush()
    counts: dict[str, int] = {str(status): 0 for status in COUNTED_ITEM_STATUSES}
    for status, count in session.execute(
        select(RunItemRow.status, func.count()).where(RunItemRow.run_id == run.id).group_by(RunItemRow.status)
    ):
        counts[str(status)] = count
    return {
        "id": run.id,
        "kind": str(run.kind),
        "status": str(run.status),
        "started_by": run.started_by,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "counts": counts,
    }


def table_of(model: Any) -> Table:
    """A mapped class's table, for Core statements (executemany without the ORM's per-row work)."""
    return cast(Table, model.__table__)


def update_items(session: Session, rows: Sequence[Mapping[str, object]]) -> None:
    """Set columns of run items by id (``item_id``), in one Core executemany per set of columns.

    The ORM's bulk update by primary key spent more Python per row than SQLite did on it.
    """
    by_columns: dict[tuple[str, ...], list[Mapping[str, object]]] = {}
    for row in rows:
        by_columns.setdefault(tuple(row), []).append(row)
    items = table_of(RunItemRow)
    for same in by_columns.values():
        session.execute(update(items).where(items.c.id == bindparam("item_id")), same)


def beat(session: Session, run_id: int) -> bool:
    """Record that the run's owner is alive; returns whether someone asked it to stop."""
    run = session.get(RunRow, run_id)
    if run is None:
        return True
    run.heartbeat_at = utcnow()
    return run.cancel_requested or run.status != RunStatus.RUNNING


def request_cancel(session: Session, run_id: int | None) -> RunRow:
    """Ask an active run (of any process) to stop after what is already deploying."""
    runs = active_runs(session)
    if run_id is not None:
        run = session.get(RunRow, run_id)
        if run is None:
            raise StateError(f"there is no run {run_id}")
        if run.status != RunStatus.RUNNING:
            raise StateError(f"run {run_id} is not active (it is {run.status})")
    elif not runs:
        raise StateError("no run is active")
    else:
        run = runs[-1]
    run.cancel_requested = True
    return run
