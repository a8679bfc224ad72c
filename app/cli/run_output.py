"""How a run's outcome is printed and what it exits with; what a dry run would do."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from app.cli.parsing import CancelSignal
from app.cli.shared import EXIT_CANCELLED, EXIT_OK, EXIT_SOME_FAILED, output

if TYPE_CHECKING:
    from app.engine.context import EnvironmentContext
    from app.engine.operations import RunOutcome
    from app.engine.runs.planner import DeployPlan


def run_exit_code(status: str, cancel: CancelSignal) -> int:
    if status == "succeeded":
        return EXIT_OK
    # The executor also sets the event when another process asked; only Ctrl-C here means 130.
    if status == "cancelled" and cancel.by_ctrl_c:
        return EXIT_CANCELLED
    return EXIT_SOME_FAILED


def run_document(ctx: EnvironmentContext, run_id: int) -> tuple[dict[str, Any], str]:
    """A finished run as ``run --json`` prints it, and as a few lines for people."""
    from app.engine.read import views

    detail = views.run_detail(ctx, run_id)
    summary = detail.summary
    counts = ", ".join(f"{n} {s}" for s, n in summary.counts.items() if n)
    text = f"run {summary.id} ({summary.kind}) {summary.status}: {counts or 'nothing to do'}"
    if summary.message:
        text += f"\n  {summary.message}"
    problems = [i for i in detail.items if i.status in ("failed", "blocked")]
    for item in problems[:50]:
        text += f"\n  {item.module}: {item.status}: {item.reason or ''}"
    if len(problems) > 50:
        text += f"\n  ... and {len(problems) - 50} more (see 'run {summary.id}')"
    return {"run": detail.to_json()}, text


def finish_run(args: argparse.Namespace, ctx: EnvironmentContext, outcome: RunOutcome, cancel: CancelSignal) -> int:
    document, text = run_document(ctx, outcome.run_id)
    if outcome.stats is not None:  # known to the process that ran it only: not in `run RUN --json`
        document["run"]["stats"] = outcome.stats.to_json()
    output(args, document, text)
    return run_exit_code(outcome.status, cancel)


def plan_json(plan: DeployPlan) -> dict[str, Any]:
    return {
        "platform_version": plan.platform_version,
        "to_deploy": len(plan.to_deploy),
        "skipped": plan.skipped_by_reason(),
        "items": [
            {
                "module": item.module,
                "application": item.application,
                "version": item.version,
                "status": "pending" if item.deploys else "skipped",
                "reason": item.reason,
            }
            for item in plan.items
        ],
        "unread_frontends": [frontend.to_json() for frontend in plan.unread],
    }


def plan_text(plan: DeployPlan) -> str:
    skipped = ", ".join(f"{n} {reason}" for reason, n in plan.skipped_by_reason().items() if n)
    lines = [
        f"Deploy All on {plan.platform_version} would deploy {len(plan.to_deploy)} module(s)"
        + (f"; skip {skipped}" if skipped else "")
    ]
    lines += [f"  deploy {item.module} v{item.version}" for item in plan.to_deploy]
    lines += [frontend.describe() for frontend in plan.unread]
    return "\n".join(lines)
