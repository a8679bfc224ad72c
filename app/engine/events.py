"""What a run reports while it works: small frozen events, the same for the GUI and the CLI.

The engine calls an ``EventSink`` from the thread that coordinates the run; a front-end that
needs them elsewhere (the GUI thread) forwards them itself. A sink only shows what happens: the
engine calls it through ``guarded``, so a sink that fails (a closed terminal, a window gone)
never changes what a run does or records.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

log = logging.getLogger(__name__)


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
    """A rolling run switched one front-end and ran its health check (rules.md#rolling).

    ``problem`` is None when the check passed (or there is none: ``checked`` False); otherwise
    that front-end and those before it are being switched back.
    """

    run_id: int
    frontend: str
    modules: int
    checked: bool
    problem: str | None


Event = RunStarted | ItemStarted | ItemFinished | LogLine | RunFinished | FrontendSwitched
EventSink = Callable[[Event], None]


def ignore_events(_event: Event) -> None:
    """The sink for callers that only want the outcome."""


class _GuardedSink:
    """A sink that cannot fail the run: its first failure is logged, later ones are ignored."""

    def __init__(self, sink: EventSink) -> None:
        self._sink = sink
        self._failed = False

    def __call__(self, event: Event) -> None:
        try:
            self._sink(event)
        except Exception:  # KeyboardInterrupt (a second Ctrl-C while the sink prints) goes through
            if not self._failed:
                self._failed = True
                log.warning("showing run events failed; the run goes on without them", exc_info=True)


def guarded(sink: EventSink) -> EventSink:
    """``sink``, unable to change what a run does: whatever it raises is logged once and dropped."""
    if sink is ignore_events or isinstance(sink, _GuardedSink):
        return sink
    return _GuardedSink(sink)
