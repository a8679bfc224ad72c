"""What change control asks of a run as it starts, inside the writer transaction that records it.

``ChangeGate`` refuses (exit 3, naming the refusal's kind) a changing run that would start inside
a freeze, outside every window (unless ``--override-window`` gives a reason), or without the
approved plan that approvals require; it refuses a plan this environment did not store (exit 2).
Once the kind has planned, it compares that plan with the saved one and refuses a stale plan,
naming each change, then counts the plan's approvals. It gives the run its deadline
(``SwitchDeadline``): when its windows close or a freeze begins, the run starts no more modules.
Switching back (recovery, a rolling run's undo) is never a run start, so never refused here.

A changing run is one that makes releases live (``KindTraits.switches``); a publish while
approvals are required only compiles (a plan deploys it), so it changes nothing and is let
through. An emergency rollback passes every check and is audited as such.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine.audit import audit
from app.engine.control.document import (
    FORMAT,
    PlanDocument,
    PlanTarget,
    changes_between,
    frontends_of_plan,
    plan_items,
    stale_message,
)
from app.engine.control.schedule import FREEZE_STARTED, WINDOW_CLOSED, Freeze, Moment, Schedule, Window
from app.engine.control.zones import local_zone_name
from app.engine.errors import BadInputError, Refusal, RefusedError
from app.engine.frontend.registry import Frontend
from app.engine.identity import iso, utcnow
from app.engine.runs.options import RunOptions
from app.engine.runs.records import NewItem
from app.engine.runs.work import StopCheck, WorkItem
from app.engine.store.database import Database
from app.engine.store.models import (
    ChangeFreezeRow,
    ChangeWindowRow,
    EnvironmentRow,
    PlanApprovalRow,
    SavedPlanRow,
)
from app.engine.vocabulary import RunKind

DEADLINE_REFRESH = 5.0  # seconds between two reads of the freezes while a run works


@dataclass(frozen=True)
class ChangeRequest:
    """How a command asked to change the environment, as change control reads it."""

    plan: PlanDocument | None = None  # --plan FILE, read and checked against its plan_id
    override_reason: str | None = None  # --override-window --reason TEXT
    emergency_reason: str | None = None  # rollback --emergency --reason TEXT


PLAIN_REQUEST = ChangeRequest()


def load_schedule(session: Session) -> Schedule:
    windows = tuple(
        Window(row.id, row.weekday, row.start_minute, row.minutes, row.zone)
        for row in session.scalars(select(ChangeWindowRow).order_by(ChangeWindowRow.id))
    )
    return Schedule(windows, load_freezes(session))


def load_freezes(session: Session) -> tuple[Freeze, ...]:
    return tuple(
        Freeze(row.id, row.starts_at, row.ends_at, row.zone, row.reason)
        for row in session.scalars(select(ChangeFreezeRow).order_by(ChangeFreezeRow.starts_at, ChangeFreezeRow.id))
    )


def approvals_required(env: EnvironmentRow) -> int:
    return env.approvals_required or 0


def holds_back_deploys(env: EnvironmentRow) -> bool:
    """While approvals are required, only an approved plan deploys: a publish compiles and stops."""
    return approvals_required(env) > 0


def changes_frontends(kind: RunKind, env: EnvironmentRow) -> bool:
    """Whether a run of ``kind`` changes what the front-ends run, so that windows and freezes apply."""
    if not kind.traits.switches:
        return False
    return kind.traits.planned or not holds_back_deploys(env)


def refuse_outside_window(session: Session, operation: str, override_reason: str | None) -> None:
    """Windows and freezes for a changing command that is not a run (apply-config, delete)."""
    _refuse_by_schedule(load_schedule(session), utcnow(), operation, override_reason)


def _refuse_by_schedule(schedule: Schedule, now: datetime, operation: str, override_reason: str | None) -> None:
    freeze = schedule.freeze_at(now)
    if freeze is not None:
        after = schedule.next_allowed(now, freeze.zone)
        raise RefusedError(f"{operation} refused: inside {freeze.describe()}; {_next_start(after)}", Refusal.FREEZE)
    if override_reason is None and not schedule.in_window(now):
        after = schedule.next_allowed(now, local_zone_name())
        windows = "; ".join(window.describe() for window in schedule.windows)
        raise RefusedError(
            f"{operation} refused: outside every change window ({windows}); {_next_start(after)} "
            "(an emergency outside a window: --override-window --reason TEXT)",
            Refusal.WINDOW,
        )


def _next_start(moment: Moment | None) -> str:
    return f"it could start at {moment}" if moment is not None else "no start is allowed in the coming weeks"


class ChangeGate:
    """Change control over one run's start; built right after the run is allowed beside the active ones."""

    def __init__(self, session: Session, env: EnvironmentRow, kind: RunKind, change: ChangeRequest) -> None:
        self._session = session
        self._env = env
        self._kind = kind
        self._change = change
        self._now = utcnow()
        self._saved = self._stored_plan() if change.plan is not None else None
        self._changing = changes_frontends(kind, env) and change.emergency_reason is None
        self._schedule = load_schedule(session) if self._changing else Schedule()
        if not self._changing:
            return
        _refuse_by_schedule(self._schedule, self._now, f"{kind.traits.label}", change.override_reason)
        needed = approvals_required(env) if kind.traits.planned else 0
        if needed and change.plan is None:
            raise RefusedError(
                f"{kind.traits.label} refused: {needed} approval(s) of a saved plan are required and no plan "
                "was given; save one with --plan-out FILE, have it approved (approve FILE), then run --plan FILE",
                Refusal.APPROVALS,
            )

    def _stored_plan(self) -> SavedPlanRow:
        plan = self._change.plan
        assert plan is not None
        if plan.kind != self._kind:
            raise BadInputError(f"plan {plan.short_id} is a {plan.kind} plan, not a {self._kind} one")
        row = stored_plan(self._session, plan)
        if row.run_id is not None:
            raise RefusedError(f"plan {plan.short_id} already ran, as run {row.run_id}", Refusal.STALE_PLAN)
        return row

    def admit(
        self,
        items: Sequence[NewItem],
        work_items: Sequence[WorkItem[Any]],
        frontends: Sequence[Frontend],
        platform: str,
        options: RunOptions,
    ) -> None:
        """Refuse a saved plan that differs from the plan made now, or that lacks approvals."""
        plan = self._change.plan
        if plan is None:
            return
        now = plan_content(
            self._session, self._env, plan.kind, plan.target, platform, frontends, options, items, work_items
        )
        changes = changes_between(plan.content, now)
        if changes:
            raise RefusedError(stale_message(plan, changes), Refusal.STALE_PLAN, tuple(changes))
        needed = approvals_required(self._env) if self._changing else 0
        had = approvals_count(self._session, self._saved)
        if had < needed:
            raise RefusedError(
                f"plan {plan.short_id} has {had} of the {needed} approval(s) it needs "
                f"(approvals come from others than its maker: approve FILE)",
                Refusal.APPROVALS,
            )

    def started(self, run_id: int, target: str) -> None:
        """Link the plan to its run (it runs once) and audit what let the run through."""
        if self._saved is not None:
            self._saved.run_id = run_id
            audit(self._session, self._kind, f"plan {self._saved.plan_id[:12]}", "run", f"run {run_id}")
        if self._change.emergency_reason is not None:
            emergency(self._session, self._kind, target, run_id, self._change.emergency_reason)
        elif self._change.override_reason is not None and self._changing and not self._schedule.in_window(self._now):
            audit(self._session, "override-window", target, "started", f"run {run_id}: {self._change.override_reason}")

    def deadline(self, db: Database) -> StopCheck | None:
        """When the run must stop switching, or None when nothing will stop it (an emergency)."""
        if not self._changing:
            return None
        bound = bool(self._schedule.windows) and self._schedule.in_window(self._now)
        return SwitchDeadline(db, self._schedule, self._now, bound_to_windows=bound)


def emergency(session: Session, kind: RunKind, target: str, run_id: int, reason: str) -> None:
    """An emergency run started past change control: audited, and the ``emergency`` event queued in
    this same transaction."""
    from app.engine.webhooks.outbox import WebhookEvent, enqueue

    audit(session, "emergency", target, "started", f"{kind} run {run_id}: {reason}")
    data = {"run": {"id": run_id, "kind": str(kind)}, "target": target, "reason": reason}
    enqueue(session, WebhookEvent.EMERGENCY, data, subject=f"run {run_id}")


def stored_plan(session: Session, plan: PlanDocument) -> SavedPlanRow:
    """The stored row of a plan file; bad input when this environment did not store it."""
    row = session.scalars(select(SavedPlanRow).where(SavedPlanRow.plan_id == plan.plan_id)).first()
    if row is None:
        made_for = plan.content.get("environment")
        name = made_for.get("name") if isinstance(made_for, dict) else None
        where = f" (it was made for environment {name})" if name else ""
        raise BadInputError(f"plan {plan.short_id} was not saved by this environment{where}; save a plan here")
    return row


def approvals_count(session: Session, row: SavedPlanRow | None) -> int:
    if row is None:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(PlanApprovalRow)
            .where(PlanApprovalRow.plan_id == row.id, PlanApprovalRow.revoked_at.is_(None))
        )
        or 0
    )


def plan_content(
    session: Session,
    env: EnvironmentRow,
    kind: RunKind,
    target: PlanTarget,
    platform: str,
    frontends: Sequence[Frontend],
    options: RunOptions,
    items: Sequence[NewItem],
    work_items: Sequence[WorkItem[Any]],
    *,
    created_by: str | None = None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A plan's document from the kind's planned run (``plan_id`` aside)."""
    content: dict[str, Any] = {
        "format": FORMAT,
        "environment": {"uid": env.uid, "name": env.name},
        "kind": str(kind),
        "target": target.to_json(),
        "platform_version": platform,
        "frontends": frontends_of_plan(frontends),
        "options": options.to_json(),
        "items": plan_items(session, items, work_items),
    }
    if created_by is not None:
        content["created_by"] = created_by
    if created_at is not None:
        content["created_at"] = iso(created_at)
    return content


class SwitchDeadline:
    """When a running run must start no more modules: its windows closed, or a freeze began.

    Asked before each module starts and before each front-end of a rolling switch; it reads the
    freezes again every few seconds, so a freeze added while the run works stops it too.
    """

    def __init__(self, db: Database, schedule: Schedule, started_at: datetime, *, bound_to_windows: bool) -> None:
        self._db = db
        self._closes = schedule.windows_close(started_at) if bound_to_windows else None
        self._freezes = schedule.freezes
        self._read_at = time.monotonic()

    def __call__(self) -> str | None:
        now = utcnow()
        if time.monotonic() - self._read_at >= DEADLINE_REFRESH:
            with self._db.read() as session:
                self._freezes = load_freezes(session)
            self._read_at = time.monotonic()
        if self._closes is not None and now >= self._closes:
            return WINDOW_CLOSED
        if any(freeze.holds(now) for freeze in self._freezes):
            return FREEZE_STARTED
        return None
