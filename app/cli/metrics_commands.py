"""``deploycenter --unattended metrics``: the Prometheus text format, from the record alone.

Written as it is to stdout, whatever ``--json`` says; no front-end is contacted.
"""

from __future__ import annotations

import argparse

from app.cli.parsing import CancelSignal, CommandSet
from app.cli.shared import EXIT_OK, existing_environment, stream_out


def register(commands: CommandSet) -> None:
    commands.command("metrics", "runs, modules, front-ends and the audit log in Prometheus' text format", metrics)


def metrics(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine.metrics import exposition

    with existing_environment(args) as ctx:
        text = exposition(ctx).decode("utf-8")
    stream_out([text])
    return EXIT_OK
