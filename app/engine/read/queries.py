"""Small read-only queries a front-end polls often: cheap whatever the number of modules.

``views`` answers "what does the environment look like"; these answer "did anything change,
which runs are active, and what moved in one run since the last look".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from app.engine.context import EnvironmentContext
from app.engine.read.views import ActiveRun, RunItemView, item_views
from app.engine.runs import records
from app.engine.store.models import AuditRow, ModuleLockRow, RunItemRow, RunRow
from app.engine.vocabulary import FINISHED_ITEM_STATUSES


def environment_name(ctx: EnvironmentContext) -> str:
    """The environment's name; ``StateError`` when the database holds no environment yet."""
    with ctx.db.read() as session:
        return records.environment(session).name


@dataclass(frozen=True)
class Activity:
    """What a poll sees: a marker that moves whenever something is recorded, and the active runs."""

    marker: tuple[object, ...]
    active_runs: tuple[ActiveRun, ...]
    owner_pids: dict[int, tuple[str, int]]

    @property
    def active_ids(self) -> frozenset[int]:
        return frozenset(run.id for run in self.active_runs)


def activity(ctx: EnvironmentContext) -> Activity:
    with ctx.db.read() as session:
        marker = (
            session.scalar(select(func.max(AuditRow.id))),
            session.scalar(select(func.max(RunRow.id))),
            session.scalar(select(func.max(RunRow.finished_at))),
        )
        active = records.active_runs(session)
        done = _finished_counts(session, [run.id for run in active])
        views = tuple(
            ActiveRun(run.id, run.kind, run.started_by, run.started_at, *done.get(run.id, (0, 0))) for run in active
        )
        owners = {run.id: (run.owner_host, run.owner_pid) for run in active}
    return Activity(marker, views, owners)


def _finished_counts(session: Session, run_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not run_ids:
        return {}
    finished = RunItemRow.status.in_(sorted(FINISHED_ITEM_STATUSES))
    rows = session.execute(
        select(RunItemRow.run_id, func.count(), func.sum(case((finished, 1), else_=0)))
        .where(RunItemRow.run_id.in_(run_ids))
        .group_by(RunItemRow.run_id)
    )
    return {run_id: (int(done or 0), int(total)) for run_id, total, done in rows}


def module_locks(ctx: EnvironmentContext) -> dict[int, int]:
    """Module id -> the id of the active run that holds it."""
    with ctx.db.read() as session:
        rows = session.execute(select(ModuleLockRow.module_id, ModuleLockRow.run_id))
        return {module_id: run_id for module_id, run_id in rows}


@dataclass(frozen=True)
class RunChanges:
    status: str
    finished_at: datetime | None
    items: tuple[RunItemView, ...]
    seen_until: datetime | None


def run_changes(ctx: EnvironmentContext, run_id: int, since: datetime | None) -> RunChanges:
    """The run's status and the items that started or finished at or after ``since``.

    ``seen_until`` is the newest timestamp returned; pass it back as ``since`` next time
    (items at exactly that instant come again, so callers replace rather than append).
    """
    with ctx.db.read() as session:
        run = session.get(RunRow, run_id)
        if run is None:
            return RunChanges("missing", None, (), since)
        conditions = [RunItemRow.run_id == run_id]
        if since is not None:
            conditions.append(or_(RunItemRow.started_at >= since, RunItemRow.finished_at >= since))
        items = item_views(session, *conditions)
        stamps = [t for i in items for t in (i.started_at, i.finished_at) if t is not None]
        if since is not None:
            stamps.append(since)
        return RunChanges(run.status, run.finished_at, items, max(stamps, default=None))
