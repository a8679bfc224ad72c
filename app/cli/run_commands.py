"""The commands that change the environment: create it, publish, upgrade, the deploy runs, rollback,
publish solution, prune, configuration, delete and cancel.

Handlers import the engine when they run (``app.cli.parsing`` says why).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.change_control_commands import (
    add_override_options,
    add_plan_options,
    change_request,
    options_with_plan,
    plan_of,
    same_targets,
    save_plan_and_report,
)
from app.cli.parsing import CancelSignal, CommandSet, non_negative_int, positive_int, seconds
from app.cli.progress import ProgressPrinter
from app.cli.run_output import finish_run, plan_json, plan_text, run_document, run_exit_code
from app.cli.run_requests import chosen_modules, plan_target, run_options, run_request
from app.cli.shared import (
    EXIT_OK,
    existing_environment,
    format_bytes,
    location_of,
    output,
    warn,
)
from app.engine.errors import BadInputError
from app.engine.events import ignore_events
from app.engine.vocabulary import RunKind

if TYPE_CHECKING:
    from app.engine.context import EnvironmentContext
    from app.engine.control.document import PlanDocument

ROLLING_HELP = "stage everywhere, then one front-end at a time: drain it, switch it, check it (and soak), undrain it"
SOAK_HELP = (
    "after the switch (with --rolling: after each front-end's), keep checking every switched front-end "
    "for SECONDS; a failed check switches the run back"
)
BUDGET_HELP = "start no other module once more than N modules (or P%% of those worked on) have failed"


def option_arguments(p: argparse.ArgumentParser, *, switches: bool = True) -> None:
    """The run's options (``RunOptions``): rolling and soak on runs that switch, the failure budget on all."""
    if switches:
        p.add_argument("--rolling", action="store_true", help=ROLLING_HELP)
        p.add_argument("--soak", type=seconds, metavar="SECONDS", help=SOAK_HELP)
    p.add_argument("--max-failures", metavar="N|P%", help=BUDGET_HELP)


def register(commands: CommandSet) -> None:
    p = commands.command("init", "create the environment", init)
    p.add_argument("--platform", metavar="V", help="platform version (default 11.18.1)")
    p.add_argument(
        "--frontend",
        metavar="TARGET",
        action="append",
        default=[],
        help="front-end: a folder or ssh://[user@]host[:port]/path (repeatable)",
    )
    p.add_argument("--name", help="environment name shown in the window title")
    p.add_argument("--demo", action="store_true", help="also publish the bundled sample modules")

    p = commands.command("publish", "publish module bundles (folders or .zip): compile and deploy", publish)
    p.add_argument("bundles", nargs="+", metavar="BUNDLE")
    p.add_argument("--workers", type=positive_int, metavar="N")
    option_arguments(p, switches=False)
    add_override_options(p)

    p = commands.command("upgrade", "move to a platform version and prepare every module for it", upgrade)
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="V", help="catalog version to move to")
    target.add_argument(
        "--current", action="store_true", help="prepare again what failed or is missing for the current version"
    )
    p.add_argument("--workers", type=positive_int, metavar="N")

    p = commands.command("deploy-all", "deploy every prepared module that is not live yet", deploy_all)
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument(
        "--stage",
        action="store_true",
        help="write every planned release to every front-end and switch nothing (a later deploy-all switches)",
    )
    option_arguments(p)
    p.add_argument("--workers", type=positive_int, metavar="N", help="modules deployed in parallel (default: CPUs)")
    add_plan_options(p)
    add_override_options(p)

    p = commands.command("deploy", "deploy chosen modules or an application", deploy)
    p.add_argument("modules", nargs="*", metavar="MODULE")
    p.add_argument("--app", metavar="APP", help="every module of this application")
    option_arguments(p)
    p.add_argument("--workers", type=positive_int, metavar="N")
    add_plan_options(p)
    add_override_options(p)

    p = commands.command(
        "rollback", "make live again the releases live before a run, or one release back for modules", rollback
    )
    p.add_argument("targets", nargs="*", metavar="RUN | MODULE", help="a run id, or module names")
    p.add_argument("--app", metavar="APP", help="every module of this application, one release back")
    option_arguments(p)
    p.add_argument("--workers", type=positive_int, metavar="N")
    add_plan_options(p)
    add_override_options(p, emergency=True)

    p = commands.command(
        "publish-solution",
        "recompile from the stored sources and deploy, even what is already deployed",
        publish_solution,
    )
    p.add_argument("modules", nargs="*", metavar="MODULE", help="default: every module")
    p.add_argument("--app", metavar="APP", help="every module of this application")
    option_arguments(p)
    p.add_argument("--workers", type=positive_int, metavar="N")
    add_plan_options(p)
    add_override_options(p)

    p = commands.command("prune", "remove old releases from every front-end", prune)
    p.add_argument(
        "--keep",
        type=non_negative_int,
        metavar="N",
        help="older releases kept per module beside the live, previous and staged ones (default 3); "
        "stored for the environment",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be removed and the bytes freed")

    p = commands.command("apply-config", "change configuration values and write them to the front-ends", apply_config)
    p.add_argument("module", metavar="MODULE")
    p.add_argument("values", nargs="+", metavar="KEY=VALUE")
    add_override_options(p)

    p = commands.command("delete", "remove a module from the environment and the front-ends", delete)
    p.add_argument("module", metavar="MODULE")
    add_override_options(p)

    p = commands.command("cancel", "ask the active run to stop", cancel_run)
    p.add_argument("run", nargs="?", type=positive_int, metavar="RUN")


# -- the commands ----------------------------------------------------------------------------------


def init(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import operations
    from app.engine.read import views

    location = location_of(args)
    sink = ProgressPrinter() if args.demo else ignore_events
    ctx = operations.init_environment(
        location,
        name=args.name,
        platform=args.platform,
        frontends=args.frontend,
        demo=args.demo,
        on_event=sink,
    )
    try:
        state = views.status(ctx)
        frontends = ", ".join(fe.location for fe in state.frontends)
        output(
            args,
            {"created": True, **state.to_json()},
            f"created environment '{state.name}' on platform {state.platform_version} in {location.data_dir}\n"
            f"front-ends: {frontends}" + (f"\n{state.total} demo modules published" if args.demo else ""),
        )
    finally:
        ctx.close()
    return EXIT_OK


def publish(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import operations

    change = change_request(args)
    options = run_options(args)
    with existing_environment(args) as ctx:
        outcome = operations.publish(
            ctx,
            [Path(b) for b in args.bundles],
            workers=args.workers,
            change=change,
            options=options,
            on_event=ProgressPrinter(),
            cancel=cancel,
        )
        document, text = run_document(ctx, outcome.run_id)
        held = [item for item in document["run"]["items"] if item["status"] == "prepared"]
        if held:  # approvals are required: a publish compiles, and an approved plan deploys
            document["deployed"] = False
            text += (
                f"\nnothing deployed: approvals are required, so {len(held)} compiled module(s) wait for an "
                "approved plan (deploy-all --plan-out FILE, approve FILE, deploy-all --plan FILE)"
            )
        output(args, document, text)
        return run_exit_code(outcome.status, cancel)


def upgrade(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import operations

    with existing_environment(args) as ctx:
        target = operations.platform_version(ctx) if args.current else args.to
        outcome = operations.upgrade(ctx, target, workers=args.workers, on_event=ProgressPrinter(), cancel=cancel)
        return finish_run(args, ctx, outcome, cancel)


def deploy_all(args: argparse.Namespace, cancel: CancelSignal) -> int:
    if args.stage and args.dry_run:
        raise BadInputError("--stage writes releases and --dry-run changes nothing: give one of them")
    if args.stage and args.rolling:
        raise BadInputError("--stage switches nothing, so it cannot be --rolling: give one of them")
    if (args.stage or args.dry_run) and (args.plan or args.plan_out):
        raise BadInputError("--plan and --plan-out go with a Deploy All that switches: not with --stage or --dry-run")
    plan = plan_of(args, RunKind.DEPLOY_ALL)
    options = options_with_plan(args, run_options(args), plan)
    change = change_request(args, plan)
    if args.stage and args.soak is not None:
        raise BadInputError("--stage switches nothing, so it has nothing to --soak: give one of them")
    with existing_environment(args) as ctx:
        if args.plan_out:
            return save_plan_and_report(args, ctx, RunKind.DEPLOY_ALL, plan_target(), options)
        if args.dry_run:
            from app.engine.read import views

            dry = views.deploy_plan(ctx)
            if args.json:  # only the form that is printed: each costs a pass over every module
                output(args, {"run": None, "plan": plan_json(dry)}, "")
            else:
                output(args, {}, plan_text(dry))
            return EXIT_OK
        from app.engine import operations

        if args.stage:
            outcome = operations.stage_all(
                ctx, workers=args.workers, options=options, on_event=ProgressPrinter(), cancel=cancel
            )
        else:
            outcome = operations.deploy_all(
                ctx,
                workers=args.workers,
                options=options,
                change=change,
                on_event=ProgressPrinter(),
                cancel=cancel,
            )
        return finish_run(args, ctx, outcome, cancel)


def deploy(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import operations

    request = run_request(args, RunKind.DEPLOY)
    with existing_environment(args) as ctx:
        ids = request.modules(ctx, chosen_modules(ctx, args))
        if ids is None:
            raise BadInputError("name the modules to deploy, or --app APP")
        if args.plan_out:
            return save_plan_and_report(args, ctx, RunKind.DEPLOY, plan_target(), request.options, ids)
        outcome = operations.deploy_modules(
            ctx,
            ids,
            workers=args.workers,
            options=request.options,
            change=request.change,
            on_event=ProgressPrinter(),
            cancel=cancel,
        )
        return finish_run(args, ctx, outcome, cancel)


def rollback(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import operations

    run_ids = [text for text in args.targets if text.isdigit()]
    if run_ids and (len(args.targets) > 1 or args.app):
        raise BadInputError("give one run id, or module names or --app, not both")
    if args.app and args.targets:
        raise BadInputError("give module names or --app, not both")
    request = run_request(args, RunKind.ROLLBACK)
    plan, options, change = request.plan, request.options, request.change
    if args.emergency and args.plan_out:
        raise BadInputError("--emergency rolls back now, without a plan: not with --plan-out")
    with existing_environment(args) as ctx:
        run_id = int(run_ids[0]) if run_ids else None
        ids = (
            operations.resolve_modules(ctx, args.targets, args.app)
            if (args.targets or args.app) and not run_ids
            else None
        )
        if plan is not None:
            ids, run_id = _rollback_targets(ctx, plan, run_id, ids)
        elif run_id is None and ids is None:
            raise BadInputError("name a run, modules, or an application with --app")
        if args.plan_out:
            return save_plan_and_report(args, ctx, RunKind.ROLLBACK, plan_target(run_id), options, ids)
        if run_id is not None:
            outcome = operations.rollback_run(
                ctx,
                run_id,
                workers=args.workers,
                options=options,
                change=change,
                on_event=ProgressPrinter(),
                cancel=cancel,
            )
        else:
            outcome = operations.rollback_modules(
                ctx,
                ids or [],
                workers=args.workers,
                options=options,
                change=change,
                on_event=ProgressPrinter(),
                cancel=cancel,
            )
        return finish_run(args, ctx, outcome, cancel)


def _rollback_targets(
    ctx: EnvironmentContext, plan: PlanDocument, run_id: int | None, given: list[int] | None
) -> tuple[list[int] | None, int | None]:
    """What a saved rollback plan rolls back; a run or modules given beside it must be the plan's."""
    from app.engine.control.plans import plan_module_ids

    target = plan.target
    if target.run is not None:
        if given is not None or (run_id is not None and run_id != target.run):
            raise BadInputError(f"the saved plan rolls back run {target.run}; give --plan alone")
        return None, target.run
    if run_id is not None:
        raise BadInputError(f"the saved plan rolls back {target.describe()}, not a run; give --plan alone")
    ids = plan_module_ids(ctx, plan)
    same_targets(plan, given, ids)
    return ids, None


def publish_solution(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import operations

    request = run_request(args, RunKind.PUBLISH_SOLUTION)
    with existing_environment(args) as ctx:
        ids = request.modules(ctx, chosen_modules(ctx, args))  # None: every module
        if args.plan_out:
            return save_plan_and_report(args, ctx, RunKind.PUBLISH_SOLUTION, plan_target(), request.options, ids)
        outcome = operations.publish_solution(
            ctx,
            ids,
            workers=args.workers,
            options=request.options,
            change=request.change,
            on_event=ProgressPrinter(),
            cancel=cancel,
        )
        return finish_run(args, ctx, outcome, cancel)


def prune(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import operations

    with existing_environment(args) as ctx:
        report = operations.prune(ctx, args.keep, dry_run=args.dry_run)
    verb = "would remove" if report.dry_run else "removed"
    lines = [
        f"{verb} {len(report.releases)} release(s), {format_bytes(report.size)} "
        f"(keeping the live, previous and staged releases and {report.keep} more per module)"
    ]
    lines += [f"  {r.frontend}: {r.module}: {r.release_id} ({format_bytes(r.size)})" for r in report.releases]
    if report.leftovers:
        lines.append(f"{verb} {len(report.leftovers)} leftover work file(s) of interrupted runs")
        lines += [f"  {left.frontend}: {left.module}: {left.path}" for left in report.leftovers]
    for why in report.skipped:
        warn(why)
    output(args, report.to_json(), "\n".join(lines))
    return EXIT_OK


def apply_config(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import operations
    from app.engine.secret_keys import shown_config

    values = operations.parse_assignments(args.values)
    change = change_request(args)
    with existing_environment(args) as ctx:
        config = operations.apply_config(ctx, args.module, values, override_reason=change.override_reason)
        output(
            args,
            {"module": args.module, "config": shown_config(ctx, args.module, config)},
            f"configuration of {args.module} applied: {', '.join(sorted(values))}",
        )
    return EXIT_OK


def delete(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import operations

    change = change_request(args)
    with existing_environment(args) as ctx:
        name = operations.delete_module(ctx, args.module, override_reason=change.override_reason)
        output(args, {"deleted": name}, f"module {name} deleted; its history is kept")
    return EXIT_OK


def cancel_run(args: argparse.Namespace, _cancel: CancelSignal) -> int:
    from app.engine import operations

    with existing_environment(args) as ctx:
        ref = operations.cancel_run(ctx, args.run)
        output(
            args,
            {"cancel_requested": {"id": ref.id, "kind": ref.kind}},
            f"asked {ref.describe()} to stop after the modules already deploying",
        )
    return EXIT_OK
