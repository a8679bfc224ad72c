"""What a run reports while it works: small frozen events, the same for the GUI and the CLI.

The engine calls an ``EventSink`` from the thread that coordinates the run; a front-end that
needs them elsewhere (the GUI thread) forwards them itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ItemSnapshot:
    module: str
    application: str
    version: int | None
    status: str
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class RunStarted:
    run_id: int
    kind: str
    started_by: str
    started_at: datetime
    items: tuple[ItemSnapshot, ...]
    # A rolling run's front-ends, in the order it switches them once all is staged; () otherwise.
    switch_order: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class ItemStarted:
    run_id: int
    module: str
    at: datetime


@dataclass(frozen=True)
class ItemFinished:
    run_id: int
    module: str
    status: str
    reason: str | None
    message: str | None
    seconds: float


@dataclass(frozen=True)
class LogLine:
    run_id: int
    level: str  # "info", "warning" or "error"
    text: str
    at: datetime


@dataclass(frozen=True)
class RunFinished:
    run_id: int
    status: str
    counts: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class FrontendSwitched:
    """A rolling run switched one front-end and ran its health check (section 7.5).

    ``problem`` is None when the check passed (or there is none: ``checked`` False); otherwise
    that front-end and those before it are being switched back.
    """

    run_id: int
    frontend: str
    modules: int
    checked: bool
    problem: str | None
    at: datetime | None = field(default=None, compare=False)  # when its check ended


@dataclass(frozen=True)
class FrontendPhase:
    """A rolling run began a step on one front-end: ``SWITCH_PHASE`` (its releases made live) or
    ``HEALTH_PHASE`` (its health check). The front-end's ``FrontendSwitched`` ends its last step;
    the first switch also ends the staging, which every front-end did at once before."""

    run_id: int
    frontend: str
    phase: str
    at: datetime


SWITCH_PHASE = "switch"
HEALTH_PHASE = "health"

Event = RunStarted | ItemStarted | ItemFinished | LogLine | RunFinished | FrontendSwitched | FrontendPhase
EventSink = Callable[[Event], None]


def ignore_events(_event: Event) -> None:
    """The sink for callers that only want the outcome."""
