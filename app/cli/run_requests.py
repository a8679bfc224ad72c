"""What a planned run's command asks for: its options, a saved plan, how change control lets it
start, and the modules it works on."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.cli.change_control_commands import change_request, options_with_plan, plan_of, same_targets
from app.engine.errors import BadInputError
from app.engine.runs.options import FailureBudget, RunOptions
from app.engine.vocabulary import RunKind

if TYPE_CHECKING:
    from app.engine.context import EnvironmentContext
    from app.engine.control.document import PlanDocument, PlanTarget
    from app.engine.control.gate import ChangeRequest


def plan_target(run: int | None = None) -> PlanTarget:
    from app.engine.control.document import PlanTarget

    return PlanTarget(run=run)


def run_options(args: argparse.Namespace) -> RunOptions:
    """The run's options as the command line gives them; a budget that does not parse is bad input."""
    budget = getattr(args, "max_failures", None)
    return RunOptions(
        rolling=getattr(args, "rolling", False),
        soak=getattr(args, "soak", None),
        max_failures=None if budget is None else FailureBudget.parse(budget),
    )


@dataclass(frozen=True)
class RunRequest:
    """What a planned kind's command asks for: a saved plan to run (if any), with its options, and
    how change control lets it start."""

    plan: PlanDocument | None
    options: RunOptions
    change: ChangeRequest

    def modules(self, ctx: EnvironmentContext, given: list[int] | None) -> list[int] | None:
        """The modules the run works on: a saved plan's (those given beside it must be the same),
        else those given (None: every module)."""
        if self.plan is None:
            return given
        from app.engine.control.plans import plan_module_ids

        planned = plan_module_ids(ctx, self.plan)
        same_targets(self.plan, given, planned)
        return planned


def run_request(args: argparse.Namespace, kind: RunKind) -> RunRequest:
    plan = plan_of(args, kind)
    return RunRequest(plan, options_with_plan(args, run_options(args), plan), change_request(args, plan))


def chosen_modules(ctx: EnvironmentContext, args: argparse.Namespace) -> list[int] | None:
    """The modules named, or every module of ``--app``; None when neither is given."""
    from app.engine import operations

    if args.app and args.modules:
        raise BadInputError("give module names or --app, not both")
    return operations.resolve_modules(ctx, args.modules, args.app) if (args.modules or args.app) else None
