"""The read-only commands: status, modules, runs, run and verify (the audit log has ``audit_commands``).

``status`` reads straight from the SQLite file when it can (``read.quick_status``): at 100,000
modules most of the command was importing SQLAlchemy and the models, which the quick read needs
neither of; it hands over to the usual path whenever it is unsure.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from app.cli.change_control_commands import describe_change_control
from app.cli.parsing import CancelSignal, CommandSet, positive_int
from app.cli.progress import format_seconds
from app.cli.shared import EXIT_OK, EXIT_SOME_FAILED, existing_environment, format_table, location_of, output, reached
from app.engine.read.quick_status import read_status
from app.engine.read.status import Status

if TYPE_CHECKING:
    from app.engine.frontend.verify import Drift, DriftGroup

FEW = 5  # modules named per group of drift in the text; --json names them all


def register(commands: CommandSet) -> None:
    commands.command("status", "platform version, front-ends, counts and the active run", status)
    commands.command("modules", "every module and its state", modules)
    commands.command("runs", "the history of runs", runs)
    p = commands.command("run", "one run with its items", run)
    p.add_argument("run", type=positive_int, metavar="RUN")
    commands.command("verify", "check every front-end against the artifacts", verify)


def status(args: argparse.Namespace, cancel: CancelSignal) -> int:
    state = read_status(location_of(args))
    if state is None:
        from app.engine.read import views

        with existing_environment(args) as ctx:
            state = views.status(ctx)
    output(args, state.to_json(), status_text(state))
    return EXIT_OK


def status_text(state: Status) -> str:
    lines = [
        f"environment:  {state.name}",
        f"platform:     {state.platform_version}",
    ]
    if state.upgrade_to:
        word = "complete" if state.fully_upgraded else "in progress"
        lines.append(f"upgrade:      from {state.upgrade_from} to {state.upgrade_to} ({word})")
    shown = [
        f"{fe.name} ({fe.location}{'' if fe.enabled else ', disabled'}"
        f"{'' if fe.drained_by is None else f', drained by run {fe.drained_by}'})"
        for fe in state.frontends
    ]
    lines.append(f"front-ends:   {', '.join(shown)}")
    lines.append(
        f"modules:      {state.total} total, {state.ready} ready for deployment, "
        f"{state.compilation_failed} compilation failed, {state.deployed} already deployed"
        + (f", {state.not_prepared} not prepared" if state.not_prepared else "")
        + (f", {state.staged} staged" if state.staged else "")
    )
    for active in state.active_runs:
        lines.append(
            f"active run:   {active.id} ({active.kind}) by {active.started_by} since "
            f"{active.started_at:%Y-%m-%d %H:%M:%S} UTC, {active.done}/{active.total} done"
        )
    if not state.active_runs:
        lines.append("active run:   none")
    if state.change_control is not None:
        lines.append(f"changes:      {describe_change_control(state.change_control)}")
    return "\n".join(lines)


def modules(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.read import views

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


def runs(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.read import views

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


def run(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.read import views

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


def verify(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.opening import check_database
    from app.engine.read import views

    with existing_environment(args) as ctx:
        check_database(ctx)
        report = views.verify(ctx)
    if report.drift:
        text = "\n".join(drift_lines(report.drift))
    else:
        text = f"verified {report.checked} module release(s) across front-ends: no drift"
    if report.disabled:
        text += f"\nnot checked (disabled): {', '.join(report.disabled)}"
    output(args, {"ok": not report.drift, **report.to_json()}, text)
    return EXIT_SOME_FAILED if report.drift else EXIT_OK


def drift_lines(drift: Sequence[Drift]) -> list[str]:
    """One line per front-end and cause, with a count and the first few modules."""
    from app.engine.frontend.verify import group_drift

    details: dict[tuple[str, str, str], list[str]] = {}
    for item in drift:
        details.setdefault((item.frontend, item.group, item.module), []).append(item.problem)
    groups = group_drift(drift)
    lines = [_group_line(group, details) for group in groups]
    if any(len(group.modules) > FEW for group in groups):
        lines.append("(verify --json lists every module)")
    return lines


def _group_line(group: DriftGroup, details: Mapping[tuple[str, str, str], list[str]]) -> str:
    size = len(group.modules)
    named = [
        _named(module, details[group.frontend, group.cause, module], group.cause, size)
        for module in group.modules[:FEW]
    ]
    more = f" and {size - FEW} more" if size > FEW else ""
    return f"drift: {group.frontend}: {group.cause}: {size} module{'s' if size > 1 else ''}: {', '.join(named)}{more}"


def _named(module: str, problems: list[str], cause: str, size: int) -> str:
    """A module of a small group shows its problems in full, unless its cause says it all."""
    if size > FEW or problems == [cause]:
        return module
    return f"{module} ({'; '.join(problems)})"
