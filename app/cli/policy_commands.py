"""``deploycenter --unattended policy set ...``: the settings that govern every run of the environment.

Each setting is one option of ``policy set``; an option left out keeps its value. A new setting is
an option here, a field of ``engine.policy.PolicyChange`` and one of ``engine.policy.Policy``.
"""

from __future__ import annotations

import argparse

from app.cli.parsing import CancelSignal, CommandSet, non_negative_int
from app.cli.shared import EXIT_OK, existing_environment, output


def register(commands: CommandSet) -> None:
    actions = commands.group("policy", "settings that govern every run", "Settings that govern every run.")
    p = actions.command("set", "change the settings given; the others keep their values", set_policy)
    p.add_argument(
        "--approvals",
        type=_approvals,
        metavar="N",
        help="approvals of its saved plan, by others than its maker, that every planned run needs (0: none)",
    )
    metrics = p.add_mutually_exclusive_group()
    metrics.add_argument(
        "--metrics-file",
        metavar="PATH",
        help="rewrite this file with the metrics when each run ends (node_exporter's textfile collector reads *.prom)",
    )
    metrics.add_argument("--clear-metrics-file", action="store_true", help="stop writing a metrics file")


def _approvals(text: str) -> int:
    try:
        return non_negative_int(text)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error} (the number of approvals a planned run needs)") from None


def set_policy(args: argparse.Namespace, cancel: CancelSignal) -> int:
    from app.engine import policy

    change = policy.PolicyChange(args.approvals, args.metrics_file, args.clear_metrics_file)
    with existing_environment(args) as ctx:
        current = policy.set_policy(ctx, change)
    text = (
        f"every planned run needs {current.approvals_required} approval(s) of its saved plan\n"
        f"metrics file: {current.metrics_file or 'none'}"
    )
    output(args, {"policy": current.to_json()}, text)
    return EXIT_OK
