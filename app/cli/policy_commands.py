"""``deploycenter --unattended policy set ...``: the settings that govern every run of the environment.

Each setting is one option of ``policy set``; an option left out keeps its value. A new setting is
an option here and a field of ``engine.policy.Policy``.
"""

from __future__ import annotations

import argparse

from app.cli.parsing import ArgumentError, CancelSignal, CommandSet
from app.cli.shared import EXIT_OK, existing_environment, output


def register(commands: CommandSet) -> None:
    actions = commands.group("policy", "settings that govern every run", "Settings that govern every run.")
    p = actions.command("set", "change the settings given; the others keep their values", set_policy)
    metrics = p.add_mutually_exclusive_group()
    metrics.add_argument(
        "--metrics-file",
        metavar="PATH",
        help="rewrite this file with the metrics when each run ends (node_exporter's textfile collector reads *.prom)",
    )
    metrics.add_argument("--clear-metrics-file", action="store_true", help="stop writing a metrics file")


def set_policy(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import policy

    if args.metrics_file is None and not args.clear_metrics_file:
        raise ArgumentError("policy set: give at least one setting (see policy set --help)")
    with existing_environment(args) as ctx:
        current = policy.set_metrics_file(ctx, None if args.clear_metrics_file else args.metrics_file)
    text = f"metrics file: {current.metrics_file or 'none'}"
    output(args, {"policy": current.to_json()}, text)
    return EXIT_OK
