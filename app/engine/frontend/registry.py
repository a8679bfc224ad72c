"""The environment's front-ends as plain values, and the target that works on each.

Plain values with no database behind them: worker processes are handed these and build their
own targets (``lookup.frontends_of_session`` reads them from the database).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.engine.frontend.target import FrontendTarget


@dataclass(frozen=True)
class Frontend:
    """One front-end as recorded: plain values, so worker processes can be handed it."""

    id: int
    name: str
    location: str  # the folder

    @property
    def path(self) -> Path:
        return Path(self.location)

    def target(self) -> FrontendTarget:
        from app.engine.frontend.local import LocalTarget  # here: status needs no file machinery

        return LocalTarget(self.name, self.location)


def targets_of(frontends: Sequence[Frontend]) -> list[FrontendTarget]:
    """A target per front-end; one folder recorded twice (through a link, say) is one target."""
    seen: dict[str, FrontendTarget] = {}
    for frontend in frontends:
        seen.setdefault(os.path.realpath(frontend.location), frontend.target())
    return list(seen.values())
