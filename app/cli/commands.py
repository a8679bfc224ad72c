"""One handler per unattended command: call the engine, print for people or as JSON, return the exit code."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.progress import ProgressPrinter, format_seconds
from app.cli.shared import EXIT_CANCELLED, EXIT_OK, EXIT_SOME_FAILED, location_of, output
from app.engine.audit import audit_entries
from app.engine.context import EnvironmentContext, open_context
from app.engine.errors import BadInputError, StateError
from app.engine.events import EventSink, ignore_events

# The commands that change something import app.engine.operations themselves: read-only ones
# start faster without the deploy machinery it brings (and status, in status_command, without these).
from app.engine.read import views
from app.engine.runs.planner import DeployPlan
from app.engine.runs.records import environment, has_stale_runs
from app.engine.secret_keys import shown_config
from app.engine.store.database import RESTORE_ADVICE, translate_db_errors

if TYPE_CHECKING:
    from app.engine.operations import RunOutcome


@contextmanager
def existing_environment(args: argparse.Namespace) -> Iterator[EnvironmentContext]:
    location = location_of(args)
    ctx = open_context(location)
    # Any database failure inside the command, wherever the engine queries, becomes one line.
    try:
        with translate_db_errors(ctx.db):
            with ctx.db.read() as session:
                environment(session)
            if not ctx.db.read_only:  # a read-only view cannot settle dead runs; the next writer does
                settle_dead_runs(ctx)
            yield ctx
    finally:
        ctx.close()


def settle_dead_runs(ctx: EnvironmentContext) -> None:
    """Reconcile runs whose process died before the command does anything else (section 7.3)."""
    with ctx.db.read() as session:
        if not has_stale_runs(session):
            return
    from app.engine.kinds.recovery import recover_dead_runs  # here: most commands find none

    recover_dead_runs(ctx)


def progress(args: argparse.Namespace) -> EventSink:
    return ProgressPrinter()


def run_exit_code(status: str, cancel: threading.Event) -> int:
    if status == "succeeded":
        return EXIT_OK
    # The executor also sets the event when another process asked; only Ctrl-C here means 130.
    if status == "cancelled" and getattr(cancel, "by_ctrl_c", False):
        return EXIT_CANCELLED
    return EXIT_SOME_FAILED


def run_document(ctx: EnvironmentContext, run_id: int) -> tuple[dict[str, Any], str]:
    detail = views.run_detail(ctx, run_id)
    summary = detail.summary
    counts = ", ".join(f"{n} {s}" for s, n in summary.counts.items() if n)
    text = f"run {summary.id} ({summary.kind}) {summary.status}: {counts or 'nothing to do'}"
    problems = [i for i in detail.items if i.status in ("failed", "blocked")]
    for item in problems[:50]:
        text += f"\n  {item.module}: {item.status}: {item.reason or ''}"
    if len(problems) > 50:
        text += f"\n  ... and {len(problems) - 50} more (see 'run {summary.id}')"
    return {"run": detail.to_json()}, text


def finish_run(
    args: argparse.Namespace,
    ctx: EnvironmentContext,
    outcome: RunOutcome,
    cancel: threading.Event,
    failed_code: int = EXIT_SOME_FAILED,
) -> int:
    document, text = run_document(ctx, outcome.run_id)
    output(args, document, text)
    code = run_exit_code(outcome.status, cancel)
    return failed_code if code == EXIT_SOME_FAILED else code


# -- commands ----------------------------------------------------------------------------------


def init(args: argparse.Namespace, cancel: threading.Event) -> int:
    from app.engine import operations

    location = location_of(args)
    sink = progress(args) if args.demo else ignore_events
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


def publish(args: argparse.Namespace, cancel: threading.Event) -> int:
    from app.engine import operations

    with existing_environment(args) as ctx:
        outcome = operations.publish(
            ctx, [Path(b) for b in args.bundles], workers=args.workers, on_event=progress(args), cancel=cancel
        )
        return finish_run(args, ctx, outcome, cancel)


def upgrade(args: argparse.Namespace, cancel: threading.Event) -> int:
    from app.engine import operations

    with existing_environment(args) as ctx:
        target = args.to
        if args.current:
            with ctx.db.read() as session:
                target = environment(session).platform_version
        outcome = operations.upgrade(ctx, target, workers=args.workers, on_event=progress(args), cancel=cancel)
        return finish_run(args, ctx, outcome, cancel)


def deploy_all(args: argparse.Namespace, cancel: threading.Event) -> int:
    if args.stage and args.dry_run:
        raise BadInputError("--stage writes releases and --dry-run changes nothing: give one of them")
    if args.stage and args.rolling:
        raise BadInputError("--stage switches nothing, so it cannot be --rolling: give one of them")
    with existing_environment(args) as ctx:
        if args.stage:
            from app.engine import operations

            outcome = operations.stage_all(ctx, workers=args.workers, on_event=progress(args), cancel=cancel)
            return finish_run(args, ctx, outcome, cancel)
        if args.dry_run:
            plan = views.deploy_plan(ctx)
            if args.json:  # only the form that is printed: each costs a pass over every module
                output(args, {"run": None, "plan": plan_json(plan)}, "")
            else:
                output(args, {}, plan_text(plan))
            return EXIT_OK
        from app.engine import operations

        outcome = operations.deploy_all(
            ctx, workers=args.workers, rolling=args.rolling, on_event=progress(args), cancel=cancel
        )
        return finish_run(args, ctx, outcome, cancel)


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
    }


def plan_text(plan: DeployPlan) -> str:
    skipped = ", ".join(f"{n} {reason}" for reason, n in plan.skipped_by_reason().items() if n)
    lines = [
        f"Deploy All on {plan.platform_version} would deploy {len(plan.to_deploy)} module(s)"
        + (f"; skip {skipped}" if skipped else "")
    ]
    lines += [f"  deploy {item.module} v{item.version}" for item in plan.to_deploy]
    return "\n".join(lines)


def deploy(args: argparse.Namespace, cancel: threading.Event) -> int:
    from app.engine import operations

    with existing_environment(args) as ctx:
        if args.app and args.modules:
            raise BadInputError("give module names or --app, not both")
        ids = operations.resolve_modules(ctx, args.modules, args.app)
        outcome = operations.deploy_modules(
            ctx, ids, workers=args.workers, rolling=args.rolling, on_event=progress(args), cancel=cancel
        )
        return finish_run(args, ctx, outcome, cancel)


def rollback(args: argparse.Namespace, cancel: threading.Event) -> int:
    from app.engine import operations

    run_ids = [text for text in args.targets if text.isdigit()]
    if run_ids and (len(args.targets) > 1 or args.app):
        raise BadInputError("give one run id, or module names or --app, not both")
    if args.app and args.targets:
        raise BadInputError("give module names or --app, not both")
    with existing_environment(args) as ctx:
        if run_ids:
            outcome = operations.rollback_run(
                ctx,
                int(run_ids[0]),
                workers=args.workers,
                rolling=args.rolling,
                on_event=progress(args),
                cancel=cancel,
            )
        else:
            if not args.targets and not args.app:
                raise BadInputError("name a run, modules, or an application with --app")
            ids = operations.resolve_modules(ctx, args.targets, args.app)
            outcome = operations.rollback_modules(
                ctx, ids, workers=args.workers, rolling=args.rolling, on_event=progress(args), cancel=cancel
            )
        return finish_run(args, ctx, outcome, cancel)


def publish_solution(args: argparse.Namespace, cancel: threading.Event) -> int:
    from app.engine import operations

    with existing_environment(args) as ctx:
        if args.app and args.modules:
            raise BadInputError("give module names or --app, not both")
        ids = operations.resolve_modules(ctx, args.modules, args.app) if (args.modules or args.app) else None
        outcome = operations.publish_solution(
            ctx, ids, workers=args.workers, rolling=args.rolling, on_event=progress(args), cancel=cancel
        )
        return finish_run(args, ctx, outcome, cancel)


def prune(args: argparse.Namespace, cancel: threading.Event) -> int:
    from app.engine import operations

    with existing_environment(args) as ctx:
        report = operations.prune(ctx, args.keep, dry_run=args.dry_run)
    verb = "would remove" if report.dry_run else "removed"
    lines = [
        f"{verb} {len(report.releases)} release(s), {format_bytes(report.size)} "
        f"(keeping the live, previous and staged releases and {report.keep} more per module)"
    ]
    lines += [f"  {r.frontend}: {r.module}: {r.release_id} ({format_bytes(r.size)})" for r in report.releases]
    for why in report.skipped:
        print(f"deploycenter: warning: {why}", file=sys.stderr, flush=True)
    output(args, report.to_json(), "\n".join(lines))
    return EXIT_OK


def format_bytes(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"


def apply_config(args: argparse.Namespace, cancel: threading.Event) -> int:
    from app.engine import operations

    values = operations.parse_assignments(args.values)
    with existing_environment(args) as ctx:
        config = operations.apply_config(ctx, args.module, values)
        output(
            args,
            {"module": args.module, "config": shown_config(ctx, args.module, config)},
            f"configuration of {args.module} applied: {', '.join(sorted(values))}",
        )
    return EXIT_OK


def delete(args: argparse.Namespace, cancel: threading.Event) -> int:
    from app.engine import operations

    with existing_environment(args) as ctx:
        name = operations.delete_module(ctx, args.module)
        output(args, {"deleted": name}, f"module {name} deleted; its history is kept")
    return EXIT_OK


def cancel(args: argparse.Namespace, cancel_event: threading.Event) -> int:
    from app.engine import operations

    with existing_environment(args) as ctx:
        ref = operations.cancel_run(ctx, args.run)
        output(
            args,
            {"cancel_requested": {"id": ref.id, "kind": ref.kind}},
            f"asked {ref.describe()} to stop after the modules already deploying",
        )
    return EXIT_OK


def modules(args: argparse.Namespace, cancel: threading.Event) -> int:
    with existing_environment(args) as ctx:
        rows = views.modules(ctx)
    table = [("MODULE", "APPLICATION", "LATEST", "COMPILE", "DEPLOYED", "PLATFORM", "STATE")]
    for m in rows:
        state = m.state + (f" (locked by run {m.locked_by_run})" if m.locked_by_run else "")
        table.append(
            (
                m.name,
                m.application,
                str(m.latest_version or "-"),
                m.compile_status or "-",
                str(m.deployed_version or "-"),
                m.deployed_platform or "-",
                state,
            )
        )
    output(args, {"modules": [m.to_json() for m in rows]}, format_table(table))
    return EXIT_OK


def runs(args: argparse.Namespace, cancel: threading.Event) -> int:
    with existing_environment(args) as ctx:
        rows = views.run_summaries(ctx)
    table = [("RUN", "KIND", "STATUS", "STARTED", "DURATION", "DEPLOYED", "FAILED", "BLOCKED", "SKIPPED", "BY")]
    for r in rows:
        duration = format_seconds(r.seconds) if r.seconds is not None else "-"
        table.append(
            (
                str(r.id),
                r.kind,
                r.status,
                f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                duration,
                str(r.counts.get("deployed", 0)),
                str(r.counts.get("failed", 0)),
                str(r.counts.get("blocked", 0)),
                str(r.counts.get("skipped", 0)),
                r.started_by,
            )
        )
    output(args, {"runs": [r.to_json() for r in rows]}, format_table(table) if rows else "no runs yet")
    return EXIT_OK


def run(args: argparse.Namespace, cancel: threading.Event) -> int:
    with existing_environment(args) as ctx:
        detail = views.run_detail(ctx, args.run)
    s = detail.summary
    lines = [
        f"run {s.id} ({s.kind}) {s.status}, started by {s.started_by} at {s.started_at:%Y-%m-%d %H:%M:%S} UTC"
        + (f", took {format_seconds(s.seconds)}" if s.seconds is not None else "")
    ]
    if s.message:
        lines.append(s.message)
    table = [("MODULE", "APPLICATION", "VERSION", "STATUS", "REASON", "FRONT-ENDS")]
    table += [
        (i.module, i.application, str(i.version or "-"), i.status, i.reason or "", reached(i.frontends))
        for i in detail.items
    ]
    output(args, {"run": detail.to_json()}, "\n".join(lines) + "\n" + format_table(table))
    return EXIT_OK


def verify(args: argparse.Namespace, cancel: threading.Event) -> int:
    with existing_environment(args) as ctx:
        damage = ctx.db.check_integrity()
        if damage:
            more = f" and {len(damage) - 1} more problem(s)" if len(damage) > 1 else ""
            raise StateError(f"the database {ctx.db.file_or_url()} is damaged ({damage[0]}{more}); {RESTORE_ADVICE}")
        report = views.verify(ctx)
    if report.drift:
        text = "\n".join(f"drift: {d.frontend}: {d.module}: {d.problem}" for d in report.drift)
    else:
        text = f"verified {report.checked} module release(s) across front-ends: no drift"
    if report.disabled:
        text += f"\nnot checked (disabled): {', '.join(report.disabled)}"
    output(args, {"ok": not report.drift, **report.to_json()}, text)
    return EXIT_SOME_FAILED if report.drift else EXIT_OK


def audit(args: argparse.Namespace, cancel: threading.Event) -> int:
    with existing_environment(args) as ctx:
        entries = audit_entries(ctx, args.limit)
    table = [("WHEN", "WHO", "OPERATION", "TARGET", "RESULT", "DETAIL")]
    table += [(f"{e.at:%Y-%m-%d %H:%M:%S}", e.who, e.operation, e.target, e.result, e.detail or "") for e in entries]
    output(args, {"audit": [e.to_json() for e in entries]}, format_table(table))
    return EXIT_OK


def reached(frontends: Mapping[str, str] | None) -> str:
    """Where an item went, in one cell: "all live", or each front-end's state."""
    if not frontends:
        return ""
    if set(frontends.values()) == {"live"}:
        return "all live"
    return ", ".join(f"{name} {state}" for name, state in frontends.items())


def format_table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)
