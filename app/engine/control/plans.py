"""Saved plans: made with ``--plan-out``, approved by others, listed with whether each still holds.

A plan is made by the kind's own planner (``deploy_planner``, ``run_rollback_planner``, ...), the
one its run uses, inside a writer transaction like a run's start; it is stored in the database
and written to a file. Approving re-plans it first: a stale plan cannot be approved. An
approval and its audit entry are one transaction. Identity is ``control.identity.approver``:
never one's own plan, never twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.audit import audit, audited
from app.engine.context import EnvironmentContext
from app.engine.control.document import PlanDocument, PlanTarget, changes_between, short_id, stale_message
from app.engine.control.gate import ChangeRequest, approvals_required, plan_content, stored_plan
from app.engine.control.identity import approver
from app.engine.errors import BadInputError, Refusal, RefusedError
from app.engine.events import EventSink, ignore_events
from app.engine.files import write_atomically
from app.engine.frontend.registry import enabled, targets_in_use
from app.engine.gc_pause import gc_paused
from app.engine.identity import iso, utcnow
from app.engine.kinds.base import PlannedRun, RunOutcome, RunStart, refuse_rolling
from app.engine.kinds.deploy import deploy_all, deploy_modules, deploy_planner
from app.engine.kinds.publish_solution import publish_solution, solution_planner
from app.engine.kinds.recovery import begin_operation
from app.engine.kinds.rollback import module_rollback_planner, rollback_modules, rollback_run, run_rollback_planner
from app.engine.lookup import frontends_of_session
from app.engine.runs import records
from app.engine.runs.options import RunOptions
from app.engine.store.models import EnvironmentRow, ModuleRow, PlanApprovalRow, SavedPlanRow
from app.engine.vocabulary import RunKind

Planner = Callable[[RunStart], PlannedRun[Any]]


def _deploy(ctx: EnvironmentContext, kind: RunKind, target: PlanTarget, ids: list[int] | None) -> Planner:
    return deploy_planner(kind, ids)


def _rollback(ctx: EnvironmentContext, kind: RunKind, target: PlanTarget, ids: list[int] | None) -> Planner:
    if target.run is not None:
        return run_rollback_planner(target.run)
    return module_rollback_planner(ids or [])


def _solution(ctx: EnvironmentContext, kind: RunKind, target: PlanTarget, ids: list[int] | None) -> Planner:
    return solution_planner(ctx, ids)


# Each kind that runs from a saved plan (``KindTraits.planned``), and its own planner.
PLANNERS: dict[RunKind, Callable[[EnvironmentContext, RunKind, PlanTarget, list[int] | None], Planner]] = {
    RunKind.DEPLOY_ALL: _deploy,
    RunKind.DEPLOY: _deploy,
    RunKind.ROLLBACK: _rollback,
    RunKind.PUBLISH_SOLUTION: _solution,
}


@dataclass(frozen=True)
class Approval:
    identity: str
    at: datetime
    comment: str | None

    def to_json(self) -> dict[str, Any]:
        return {"identity": self.identity, "at": iso(self.at), "comment": self.comment}


@dataclass(frozen=True)
class PlanSummary:
    """A saved plan as ``plans`` and the window list it."""

    plan_id: str
    kind: RunKind
    target: str
    created_by: str
    created_at: datetime
    items: int
    changes: int
    approvals: tuple[Approval, ...]
    needed: int
    run_id: int | None  # the run that carried it out
    stale: tuple[str, ...] | None  # what changed since; None when not checked (it ran already)

    @property
    def current(self) -> bool:
        return self.run_id is None and self.stale == ()

    @property
    def short_id(self) -> str:
        return short_id(self.plan_id)

    def approved_by(self, identity: str) -> bool:
        return any(approval.identity == identity for approval in self.approvals)

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "kind": self.kind,
            "target": self.target,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "items": self.items,
            "changes": self.changes,
            "approvals": [approval.to_json() for approval in self.approvals],
            "approvals_needed": self.needed,
            "run": self.run_id,
            "current": self.current,
            "changed_since": None if self.stale is None else list(self.stale),
        }


@dataclass(frozen=True)
class ApprovalOutcome:
    plan_id: str
    identity: str
    had: int  # approvals the plan has now
    needed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "identity": self.identity,
            "approvals": self.had,
            "approvals_needed": self.needed,
        }


def save_plan(
    ctx: EnvironmentContext,
    kind: RunKind,
    target: PlanTarget,
    options: RunOptions,
    path: Path,
    module_ids: Sequence[int] | None = None,
) -> PlanSummary:
    """Plan a run of ``kind`` as it would run now, store the plan, and write it to ``path``.

    Changes no front-end. The file is written before the transaction ends, so a file that cannot
    be written leaves nothing stored.
    """
    if not kind.traits.planned:
        raise BadInputError(f"a {kind.traits.label} run does not run from a saved plan")
    with targets_in_use(), audited(ctx, "plan", target.describe()), gc_paused(), ctx.db.write() as session:
        env = begin_operation(session)
        ids = None if module_ids is None else list(module_ids)
        if ids is not None and target.run is None:
            target = PlanTarget(None, tuple(_names(session, ids)))
        who = approver(session)
        content = _plan_now(ctx, session, env, kind, target, options, ids, created_by=who)
        plan = PlanDocument.of(content)
        needed = approvals_required(env)
        same = session.scalars(select(SavedPlanRow).where(SavedPlanRow.plan_id == plan.plan_id)).first()
        if same is not None:  # the same plan saved twice within a second: one plan, one row
            _write_plan_file(path, plan)
            return _summary(same, _approvals(session, same), needed, ())
        row = SavedPlanRow(
            plan_id=plan.plan_id,
            kind=kind,
            target=target.describe(),
            created_by=who,
            created_at=utcnow(),
            document=plan.file_bytes.decode(),
            items=len(plan.items),
            changes=plan.changes,
        )
        session.add(row)
        session.flush()
        audit(
            session, "plan", f"plan {plan.short_id}", "saved", f"{kind} {target.describe()}: {plan.changes} change(s)"
        )
        if needed:
            _approval_needed(session, row, 0, needed)
        _write_plan_file(path, plan)
        return _summary(row, [], needed, ())


def _plan_now(
    ctx: EnvironmentContext,
    session: Session,
    env: EnvironmentRow,
    kind: RunKind,
    target: PlanTarget,
    options: RunOptions,
    ids: list[int] | None,
    *,
    created_by: str | None = None,
) -> dict[str, Any]:
    """The plan's document as the kind's planner decides it now (in the caller's transaction)."""
    every = frontends_of_session(session)
    frontends = tuple(enabled(every))
    if options.rolling:
        if not kind.traits.rolling:
            raise BadInputError(f"a {kind.traits.label} run cannot be --rolling")
        refuse_rolling(frontends)
    disabled = tuple(frontend.name for frontend in every if not frontend.enabled)
    planned = PLANNERS[kind](ctx, kind, target, ids)(RunStart(session, env, frontends, disabled, options.rolling))
    platform = planned.platform or env.platform_version
    return plan_content(
        session,
        env,
        kind,
        target,
        platform,
        every,
        options,
        planned.items,
        planned.work_items,
        created_by=created_by,
        created_at=utcnow() if created_by is not None else None,
    )


def _write_plan_file(path: Path, plan: PlanDocument) -> None:
    try:
        write_atomically(path, plan.file_bytes)
    except OSError as error:
        raise BadInputError(f"cannot write plan file {path}: {error.strerror or error}") from None


def _names(session: Session, ids: Sequence[int]) -> list[str]:
    rows = session.execute(select(ModuleRow.id, ModuleRow.name).where(ModuleRow.id.in_(list(ids))))
    names = {module_id: name for module_id, name in rows}
    return [names[module_id] for module_id in ids]


def target_module_ids(session: Session, plan: PlanDocument) -> list[int] | None:
    """The modules a plan names, as ids now; a stale refusal when one of them is gone."""
    names = plan.target.modules
    if names is None:
        return None
    rows = session.execute(
        select(ModuleRow.name_key, ModuleRow.id).where(
            ModuleRow.name_key.in_([name.casefold() for name in names]), ModuleRow.deleted_at.is_(None)
        )
    )
    found = {key: module_id for key, module_id in rows}
    gone = [name for name in names if name.casefold() not in found]
    if gone:
        changes = tuple(f"{name}: deleted since the plan was made" for name in gone)
        raise RefusedError(stale_message(plan, changes), Refusal.STALE_PLAN, changes)
    return [found[name.casefold()] for name in names]


def plan_module_ids(ctx: EnvironmentContext, plan: PlanDocument) -> list[int] | None:
    """The module ids a run of ``plan`` is given (None: every module, or a rollback of a run)."""
    with ctx.db.read() as session:
        return target_module_ids(session, plan)


def check_plan(ctx: EnvironmentContext, plan: PlanDocument) -> tuple[str, ...]:
    """What changed since ``plan`` was made (nothing: it still holds); bad input when not stored here."""
    with targets_in_use(), gc_paused(), ctx.db.read() as session:
        stored_plan(session, plan)
        return _changes_since(ctx, session, plan)


def _changes_since(ctx: EnvironmentContext, session: Session, plan: PlanDocument) -> tuple[str, ...]:
    env = records.environment(session)
    try:
        ids = target_module_ids(session, plan)
    except RefusedError as refused:
        return refused.details
    try:
        now = _plan_now(ctx, session, env, plan.kind, plan.target, plan.options, ids)
    except BadInputError as error:  # e.g. the run it rolls back no longer has anything to roll back
        return (f"it cannot be planned any more: {error.message}",)
    return tuple(changes_between(plan.content, now))


def run_plan(
    ctx: EnvironmentContext,
    plan: PlanDocument,
    *,
    workers: int | None = None,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Run a saved plan exactly, with its options (the window's Run; the commands' ``--plan``)."""
    change = ChangeRequest(plan=plan)
    ids = plan_module_ids(ctx, plan)
    options = plan.options
    run = plan.target.run
    if plan.kind == RunKind.DEPLOY_ALL:
        return deploy_all(ctx, workers=workers, options=options, change=change, on_event=on_event, cancel=cancel)
    if plan.kind == RunKind.DEPLOY:
        return deploy_modules(
            ctx, ids or [], workers=workers, options=options, change=change, on_event=on_event, cancel=cancel
        )
    if plan.kind == RunKind.ROLLBACK and run is not None:
        return rollback_run(ctx, run, workers=workers, options=options, change=change, on_event=on_event, cancel=cancel)
    if plan.kind == RunKind.ROLLBACK:
        return rollback_modules(
            ctx, ids or [], workers=workers, options=options, change=change, on_event=on_event, cancel=cancel
        )
    return publish_solution(ctx, ids, workers=workers, options=options, change=change, on_event=on_event, cancel=cancel)


def my_identity(ctx: EnvironmentContext) -> str:
    """Who this process approves as (the window enables Approve for others' plans only)."""
    with ctx.db.read() as session:
        return approver(session)


def approve_plan(ctx: EnvironmentContext, plan: PlanDocument, comment: str | None = None) -> ApprovalOutcome:
    """Record this identity's approval of ``plan``: never its maker's, never twice, never a stale plan."""
    with targets_in_use(), audited(ctx, "approve", f"plan {plan.short_id}"), ctx.db.write() as session:
        env = begin_operation(session)
        row = stored_plan(session, plan)
        who = approver(session)
        if who == row.created_by:
            raise RefusedError(
                f"plan {plan.short_id} was made by {who}: an approval must come from someone else", Refusal.APPROVALS
            )
        if _active_approval(session, row, who) is not None:
            raise RefusedError(f"{who} has already approved plan {plan.short_id}", Refusal.APPROVALS)
        if row.run_id is not None:
            raise RefusedError(f"plan {plan.short_id} already ran, as run {row.run_id}", Refusal.STALE_PLAN)
        changes = _changes_since(ctx, session, plan)
        if changes:
            raise RefusedError(stale_message(plan, changes), Refusal.STALE_PLAN, changes)
        text = (comment or "").strip() or None
        session.add(PlanApprovalRow(plan_id=row.id, identity=who, comment=text, approved_at=utcnow()))
        session.flush()
        had = len(_approvals(session, row))
        audit(session, "approve", f"plan {plan.short_id}", "approved", f"by {who}" + (f": {text}" if text else ""))
        return ApprovalOutcome(plan.plan_id, who, had, approvals_required(env))


def revoke_approval(ctx: EnvironmentContext, plan: PlanDocument) -> ApprovalOutcome:
    """Withdraw this identity's own approval of ``plan``."""
    with audited(ctx, "approve", f"plan {plan.short_id}"), ctx.db.write() as session:
        env = begin_operation(session)
        row = stored_plan(session, plan)
        who = approver(session)
        approval = _active_approval(session, row, who)
        if approval is None:
            raise BadInputError(f"{who} has no approval of plan {plan.short_id} to revoke")
        approval.revoked_at = utcnow()
        session.flush()
        had = len(_approvals(session, row))
        needed = approvals_required(env)
        audit(session, "approve", f"plan {plan.short_id}", "revoked", f"by {who}")
        if had < needed and row.run_id is None:
            _approval_needed(session, row, had, needed)
        return ApprovalOutcome(plan.plan_id, who, had, needed)


def saved_plans(ctx: EnvironmentContext, *, check: bool = True, limit: int = 50) -> list[PlanSummary]:
    """The newest saved plans with their approvals; ``check``: whether each that has not run still holds."""
    with targets_in_use(), gc_paused(), ctx.db.read() as session:
        env = records.environment(session)
        rows = session.scalars(select(SavedPlanRow).order_by(SavedPlanRow.id.desc()).limit(limit)).all()
        summaries = []
        for row in rows:
            stale: tuple[str, ...] | None = None
            if check and row.run_id is None:
                stale = _changes_since(ctx, session, PlanDocument.of(_content_of(row)))
            summaries.append(_summary(row, _approvals(session, row), approvals_required(env), stale))
        return summaries


def plan_document(ctx: EnvironmentContext, plan_id: str) -> PlanDocument:
    """A stored plan's document, as its file holds it (the window saves or approves it from here)."""
    with ctx.db.read() as session:
        row = session.scalars(select(SavedPlanRow).where(SavedPlanRow.plan_id == plan_id)).first()
        if row is None:
            raise BadInputError(f"there is no saved plan {short_id(plan_id)}")
        return PlanDocument.of(_content_of(row))


def _content_of(row: SavedPlanRow) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(row.document)
    document.pop("plan_id", None)
    return document


def _approvals(session: Session, row: SavedPlanRow) -> list[PlanApprovalRow]:
    return list(
        session.scalars(
            select(PlanApprovalRow)
            .where(PlanApprovalRow.plan_id == row.id, PlanApprovalRow.revoked_at.is_(None))
            .order_by(PlanApprovalRow.id)
        )
    )


def _active_approval(session: Session, row: SavedPlanRow, identity: str) -> PlanApprovalRow | None:
    return next((approval for approval in _approvals(session, row) if approval.identity == identity), None)


def _summary(
    row: SavedPlanRow, approvals: Sequence[PlanApprovalRow], needed: int, stale: tuple[str, ...] | None
) -> PlanSummary:
    return PlanSummary(
        row.plan_id,
        RunKind(row.kind),
        row.target,
        row.created_by,
        row.created_at,
        row.items,
        row.changes,
        tuple(Approval(a.identity, a.approved_at, a.comment) for a in approvals),
        needed,
        row.run_id,
        stale,
    )


def _approval_needed(session: Session, row: SavedPlanRow, had: int, needed: int) -> None:
    """A plan waits for approvals: audited, and the ``approval-needed`` event (the plan's id, kind,
    approvals had and needed) queued in this same transaction."""
    from app.engine.webhooks.outbox import WebhookEvent, enqueue

    audit(
        session,
        "approval-needed",
        f"plan {short_id(row.plan_id)}",
        "waiting",
        f"{row.kind} {row.target}: {had} of {needed} approval(s)",
    )
    data = {"plan_id": row.plan_id, "kind": row.kind, "target": row.target, "approvals": had, "needed": needed}
    enqueue(session, WebhookEvent.APPROVAL_NEEDED, data, subject=f"plan {short_id(row.plan_id)}")
