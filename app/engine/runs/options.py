"""How a run goes, as the user asked for it: the same value from the command line, the window and
a saved plan, so that a plan runs with exactly the options it was made with.

- ``rolling``: stage everywhere, then switch one front-end at a time, each checked.
- ``soak``: seconds during which every switched front-end's checks keep passing before the run
  ends well; a failed check switches back.
- ``max_failures``: the failure budget; once more modules than that have failed, the run starts
  no other module.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from app.engine.errors import BadInputError

_BUDGET = re.compile(r"^\s*(\d+)\s*(%?)\s*$")


@dataclass(frozen=True)
class FailureBudget:
    """How many failed modules a run tolerates: a count, or a percentage of the items it works on."""

    amount: int
    percent: bool = False

    @classmethod
    def parse(cls, text: str) -> FailureBudget:
        """``N`` or ``P%``; anything else is bad input naming what was given."""
        found = _BUDGET.match(text)
        if found is None:
            raise BadInputError(f"--max-failures takes a whole number or a percentage such as 5 or 10%, not {text!r}")
        amount, percent = int(found.group(1)), bool(found.group(2))
        if percent and amount > 100:
            raise BadInputError(f"--max-failures {text!r}: a percentage is at most 100%")
        return cls(amount, percent)

    def allowed(self, worked_on: int) -> int:
        """Failures tolerated in a run of ``worked_on`` items (skipped ones aside): one more stops it."""
        return math.floor(worked_on * self.amount / 100) if self.percent else self.amount

    def __str__(self) -> str:
        return f"{self.amount}%" if self.percent else str(self.amount)


@dataclass(frozen=True)
class RunOptions:
    """The options of one run; the defaults are a plain run."""

    rolling: bool = False
    soak: float | None = None  # seconds
    max_failures: FailureBudget | None = None

    def __post_init__(self) -> None:
        if self.soak is not None and (self.soak < 0 or not math.isfinite(self.soak)):
            raise BadInputError(f"--soak takes a number of seconds, 0 or more, not {self.soak}")

    def to_json(self) -> dict[str, Any]:
        return {
            "rolling": self.rolling,
            "soak": self.soak,
            "max_failures": None if self.max_failures is None else str(self.max_failures),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> RunOptions:
        """The options as ``to_json`` wrote them; bad input when they do not read back."""
        try:
            budget = document.get("max_failures")
            soak = document.get("soak")
            return cls(
                rolling=bool(document.get("rolling", False)),
                soak=None if soak is None else float(soak),
                max_failures=None if budget is None else FailureBudget.parse(str(budget)),
            )
        except (TypeError, ValueError, AttributeError):
            raise BadInputError(f"the run's options do not read: {document!r}") from None


PLAIN_RUN = RunOptions()
