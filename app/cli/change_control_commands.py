"""Change control on the command line: approvals, saved plans, windows and freezes, and the
options the run commands take for them (``--plan-out``, ``--plan``, ``--override-window``). The
number of approvals a planned run needs is a setting of ``policy set`` (``policy_commands``).
Handlers import the engine when they run (``app.cli.parsing`` says why).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.parsing import CancelSignal, CommandSet, positive_int
from app.cli.shared import EXIT_OK, existing_environment, format_table, output
from app.engine.errors import BadInputError
from app.engine.runs.options import FailureBudget, RunOptions

if TYPE_CHECKING:
    from app.engine.context import EnvironmentContext
    from app.engine.control.document import PlanDocument, PlanTarget
    from app.engine.control.gate import ChangeRequest
    from app.engine.control.now import ChangeControlState
    from app.engine.control.plans import PlanSummary
    from app.engine.vocabulary import RunKind


def register(commands: CommandSet) -> None:
    p = commands.command("approve", "approve a saved plan (or withdraw one's own approval)", approve)
    p.add_argument("file", metavar="FILE", help="the plan file that --plan-out wrote")
    p.add_argument("--comment", metavar="TEXT", help="kept with the approval and in the audit log")
    p.add_argument("--revoke", action="store_true", help="withdraw your own approval of this plan")

    commands.command("plans", "saved plans, their approvals and whether each still holds", plans)

    window = commands.group("window", "weekly change windows", "Changes start only inside a window, when any exists.")
    p = window.command("add", "add a weekly window", window_add)
    p.add_argument("start", metavar="START", help="a weekday and a local time, e.g. 'Sat 22:00'")
    p.add_argument("--hours", type=_hours, required=True, metavar="H", help="how long it lasts, in elapsed hours")
    p.add_argument("--tz", metavar="ZONE", help="IANA time zone, e.g. Europe/Lisbon (default: this machine's)")
    window.command("list", "every window, and when each is next open", window_list)
    p = window.command("remove", "remove a window", window_remove)
    p.add_argument("id", type=positive_int, metavar="ID")

    freeze = commands.group("freeze", "dated change freezes", "No change starts inside a freeze.")
    p = freeze.command("add", "add a freeze", freeze_add)
    p.add_argument("starts", metavar="FROM", help="local date-time without an offset, e.g. 2026-12-24T00:00")
    p.add_argument("ends", metavar="TO", help="local date-time without an offset, e.g. 2027-01-02T00:00")
    p.add_argument("--tz", metavar="ZONE", help="IANA time zone FROM and TO are read in (default: this machine's)")
    p.add_argument("--reason", metavar="TEXT", help="why, shown in every refusal")
    freeze.command("list", "every freeze", freeze_list)
    p = freeze.command("remove", "remove a freeze", freeze_remove)
    p.add_argument("id", type=positive_int, metavar="ID")


def _hours(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of hours such as 4 or 1.5, got '{text}'") from None


# -- the options of the run commands ---------------------------------------------------------------


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--plan-out", metavar="FILE", help="save the plan (what would run now) to FILE and store it; changes nothing"
    )
    parser.add_argument("--plan", metavar="FILE", help="run exactly the saved plan in FILE, with its options")


def add_override_options(parser: argparse.ArgumentParser, *, emergency: bool = False) -> None:
    parser.add_argument(
        "--override-window",
        action="store_true",
        help="start outside every change window (never inside a freeze); needs --reason, audited",
    )
    if emergency:
        parser.add_argument(
            "--emergency",
            action="store_true",
            help="roll back now, without a plan or approvals, even in a freeze; needs --reason, audited",
        )
    parser.add_argument("--reason", metavar="TEXT", help="why, for --override-window or --emergency")


def change_request(args: argparse.Namespace, plan: PlanDocument | None = None) -> ChangeRequest:
    """How the command asks to change the environment; bad usage when a reason is missing or stray."""
    from app.engine.control.gate import ChangeRequest

    override = bool(getattr(args, "override_window", False))
    emergency = bool(getattr(args, "emergency", False))
    reason = (getattr(args, "reason", None) or "").strip() or None
    if (override or emergency) and reason is None:
        raise BadInputError(f"{'--emergency' if emergency else '--override-window'} needs --reason TEXT")
    if reason is not None and not (override or emergency):
        raise BadInputError("--reason goes with --override-window or --emergency")
    if emergency and plan is not None:
        raise BadInputError("--emergency runs without a plan: give --plan or --emergency, not both")
    return ChangeRequest(
        plan=plan,
        override_reason=reason if override else None,
        emergency_reason=reason if emergency else None,
    )


def plan_of(args: argparse.Namespace, kind: RunKind) -> PlanDocument | None:
    """The plan file given with ``--plan``, read and checked (bad input: not JSON, edited, another kind)."""
    if getattr(args, "plan", None) and getattr(args, "plan_out", None):
        raise BadInputError("--plan runs a saved plan and --plan-out saves one: give one of them")
    if not getattr(args, "plan", None):
        return None
    from app.engine.control.document import read_plan_file

    plan = read_plan_file(Path(args.plan))
    if plan.kind != kind:
        raise BadInputError(f"{args.plan} is a plan for {plan.kind}, not for {kind}")
    return plan


def options_with_plan(args: argparse.Namespace, given: RunOptions, plan: PlanDocument | None) -> RunOptions:
    """The run's options: the plan's when there is one (an option given beside it must agree)."""
    if plan is None:
        return given
    stored = plan.options
    differing = []
    if getattr(args, "rolling", False) and not stored.rolling:
        differing.append("--rolling")
    soak = getattr(args, "soak", None)
    if soak is not None and float(soak) != stored.soak:
        differing.append("--soak")
    budget = getattr(args, "max_failures", None)
    if budget is not None and str(FailureBudget.parse(str(budget))) != str(stored.max_failures):
        differing.append("--max-failures")
    if differing:
        raise BadInputError(
            f"{', '.join(differing)} differs from the saved plan's options ({_options_text(stored)}); "
            "a plan runs with the options it was made with (only --workers may be given)"
        )
    return stored


def _options_text(options: RunOptions) -> str:
    return ", ".join(f"{key} {value}" for key, value in options.to_json().items())


def same_targets(plan: PlanDocument, given: list[int] | None, plan_ids: list[int] | None) -> None:
    """Modules given beside ``--plan`` must be the plan's own."""
    if given is not None and (plan_ids is None or sorted(given) != sorted(plan_ids)):
        raise BadInputError(f"the modules given are not the saved plan's ({plan.target.describe()}); give --plan alone")


def save_plan_and_report(
    args: argparse.Namespace,
    ctx: EnvironmentContext,
    kind: RunKind,
    target: PlanTarget,
    options: RunOptions,
    module_ids: list[int] | None = None,
) -> int:
    """``--plan-out FILE``: plan now, store it, write the file; nothing runs."""
    from app.engine.control import plans as saved_plans

    path = Path(args.plan_out)
    summary = saved_plans.save_plan(ctx, kind, target, options, path, module_ids)
    needs = (
        f"; it needs {summary.needed} approval(s) by others (approve {path}), then run it with --plan {path}"
        if summary.needed
        else f"; run it with --plan {path}"
    )
    text = (
        f"plan {summary.short_id} saved to {path}: {kind} of {summary.target}, "
        f"{summary.changes} change(s) in {summary.items} item(s){needs}"
    )
    output(args, {"plan": summary.to_json(), "file": str(path)}, text)
    return EXIT_OK


# -- the commands ----------------------------------------------------------------------------------


def approve(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.control import plans as saved_plans
    from app.engine.control.document import read_plan_file

    plan = read_plan_file(Path(args.file))
    if args.revoke and args.comment:
        raise BadInputError("--revoke withdraws an approval: it takes no --comment")
    with existing_environment(args) as ctx:
        if args.revoke:
            done = saved_plans.revoke_approval(ctx, plan)
            verb = "revoked the approval of"
        else:
            done = saved_plans.approve_plan(ctx, plan, args.comment)
            verb = "approved"
    text = f"{done.identity} {verb} plan {plan.short_id}: {done.had} of {done.needed} approval(s) needed"
    output(args, {"approval": {**done.to_json(), "revoked": bool(args.revoke)}}, text)
    return EXIT_OK


def plans(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.control import plans as saved_plans

    with existing_environment(args) as ctx:
        found = saved_plans.saved_plans(ctx)
    table = [("PLAN", "KIND", "TARGET", "BY", "CREATED", "CHANGES", "APPROVALS", "STATE")]
    table += [
        (
            plan.short_id,
            plan.kind,
            plan.target,
            plan.created_by,
            f"{plan.created_at:%Y-%m-%d %H:%M}",
            str(plan.changes),
            f"{len(plan.approvals)}/{plan.needed}",
            plan_state(plan),
        )
        for plan in found
    ]
    output(args, {"plans": [plan.to_json() for plan in found]}, format_table(table) if found else "no saved plans")
    return EXIT_OK


def plan_state(plan: PlanSummary) -> str:
    if plan.run_id is not None:
        return f"ran as run {plan.run_id}"
    if plan.stale:
        return f"stale: {plan.stale[0]}" + (f" (+{len(plan.stale) - 1})" if len(plan.stale) > 1 else "")
    if len(plan.approvals) < plan.needed:
        return "current, awaiting approval"
    return "current, ready to run"


def window_add(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.control import settings

    with existing_environment(args) as ctx:
        entry = settings.add_window(ctx, args.start, args.hours, args.tz)
    output(args, {"window": entry.to_json()}, f"window {settings.describe_window(entry)}")
    return EXIT_OK


def window_list(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.control import settings

    with existing_environment(args) as ctx:
        entries = settings.windows(ctx)
    text = "\n".join(settings.describe_window(e) for e in entries) or "no windows: changes may start at any time"
    output(args, {"windows": [e.to_json() for e in entries]}, text)
    return EXIT_OK


def window_remove(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.control import settings

    with existing_environment(args) as ctx:
        window = settings.remove_window(ctx, args.id)
    output(args, {"removed": {"window": window.id}}, f"window {window.id} ({window.describe()}) removed")
    return EXIT_OK


def freeze_add(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.control import settings

    with existing_environment(args) as ctx:
        entry = settings.add_freeze(ctx, args.starts, args.ends, args.tz, args.reason)
    output(args, {"freeze": entry.to_json()}, f"added {entry.freeze.describe()}")
    return EXIT_OK


def freeze_list(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.control import settings

    with existing_environment(args) as ctx:
        entries = settings.freezes(ctx)
    lines = [f"{e.freeze.describe()}{' (in force now)' if e.active else ''}" for e in entries]
    output(args, {"freezes": [e.to_json() for e in entries]}, "\n".join(lines) or "no freezes")
    return EXIT_OK


def freeze_remove(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.control import settings

    with existing_environment(args) as ctx:
        freeze = settings.remove_freeze(ctx, args.id)
    output(args, {"removed": {"freeze": freeze.id}}, f"{freeze.describe()} removed")
    return EXIT_OK


def describe_change_control(state: ChangeControlState) -> str:
    """``status``'s line about change control, for people."""
    parts = []
    if state.approvals_required:
        parts.append(f"{state.approvals_required} approval(s) per plan")
    if state.active_freeze is not None:
        parts.append(f"inside {state.active_freeze.describe()}")
    elif not state.in_window:
        parts.append(f"outside every window; the next opens {state.next_window}")
    elif state.windows:
        parts.append("inside a window")
    return ", ".join(parts) or "off: changes may start at any time"
