"""The release lifecycle asked for from any pane (rules.md#rollback): rollback, with its plan confirmed first.

The plan is read on a job thread (it reads the run's items and the modules' history); what it
says is asked as one question, and only a yes starts the rollback run through the controller,
where it runs like any other run and shows in Deployment Details as it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.engine import operations
from app.engine.kinds.rollback import RollbackPlan
from app.gui.controller import NO_ROLLBACK_REASONS, describe_rollback
from app.gui.jobs import JobResult
from app.gui.session import GuiSession

ROLLBACK_PLAN_JOB = "rollback plan"


def _read_plan(session: GuiSession, run_id: int | None, names: Sequence[str]) -> RollbackPlan:
    """Job thread: what the rollback would switch back."""
    if run_id is not None:
        return operations.plan_rollback(session.ctx, run_id=run_id)
    ids = operations.resolve_modules(session.ctx, list(names))
    return operations.plan_rollback(session.ctx, module_ids=ids)


def request_rollback(
    session: GuiSession,
    pane: str,
    *,
    run_id: int | None = None,
    names: Sequence[str] = (),
    started: Callable[[], object] | None = None,
) -> None:
    """Roll back run ``run_id``, or else the modules ``names`` one release, once the user agrees.

    While one plan is being read, another request is ignored: one question at a time.
    """
    if session.jobs.running(ROLLBACK_PLAN_JOB):
        return
    chosen = tuple(names)

    def confirm(result: JobResult) -> None:
        if session.closed:
            return
        if not result.ok:
            session.notifier.error(result.error_text, pane)
            return
        plan: RollbackPlan = result.value
        if not plan.to_roll_back:
            reasons = sorted({NO_ROLLBACK_REASONS.get(str(i.reason), str(i.reason)) for i in plan.items})
            what = f"run {run_id}" if run_id is not None else "the chosen modules"
            session.notifier.info(
                f"Nothing to roll back for {what}" + (f": {', '.join(reasons)}" if reasons else ""), pane
            )
            return
        if not session.notifier.confirm("Roll back", describe_rollback(plan), "Roll back"):
            return
        if run_id is not None:
            session.controller.rollback_run(run_id, pane)
        else:
            session.controller.rollback_modules(chosen, pane)
        if started is not None:
            started()

    session.jobs.submit(ROLLBACK_PLAN_JOB, lambda: _read_plan(session, run_id, chosen), confirm)
