"""``status``: read straight from the SQLite file when it can, else through the engine's views.

At 100,000 modules most of the command was importing SQLAlchemy and the models; the quick read
(``quick_status``) needs neither, and hands over to the usual path whenever it is unsure.
"""

from __future__ import annotations

import argparse
import threading

from app.cli.shared import EXIT_OK, location_of, output
from app.engine.read.quick_status import read_status
from app.engine.read.status import Status


def status(args: argparse.Namespace, cancel: threading.Event) -> int:
    state = read_status(location_of(args))
    if state is None:
        state = _status_from_views(args)
    output(args, state.to_json(), status_text(state))
    return EXIT_OK


def _status_from_views(args: argparse.Namespace) -> Status:
    from app.cli.commands import existing_environment
    from app.engine.read import views

    with existing_environment(args) as ctx:
        return views.status(ctx)


def status_text(state: Status) -> str:
    lines = [
        f"environment:  {state.name}",
        f"platform:     {state.platform_version}",
    ]
    if state.upgrade_to:
        word = "complete" if state.fully_upgraded else "in progress"
        lines.append(f"upgrade:      from {state.upgrade_from} to {state.upgrade_to} ({word})")
    shown = [f"{fe.name} ({fe.location}{'' if fe.enabled else ', disabled'})" for fe in state.frontends]
    lines.append(f"front-ends:   {', '.join(shown)}")
    lines.append(
        f"modules:      {state.total} total, {state.ready} ready for deployment, "
        f"{state.compilation_failed} compilation failed, {state.deployed} already deployed"
        + (f", {state.not_prepared} not prepared" if state.not_prepared else "")
        + (f", {state.staged} staged" if state.staged else "")
    )
    for run in state.active_runs:
        lines.append(
            f"active run:   {run.id} ({run.kind}) by {run.started_by} since "
            f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC, {run.done}/{run.total} done"
        )
    if not state.active_runs:
        lines.append("active run:   none")
    return "\n".join(lines)
