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
from enum import StrEnum

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
    """A rolling run switched one front-end and ran its health check (rules.md#rolling).

    ``problem`` is None when the check passed (or there is none: ``checked`` False); otherwise
    that front-end and those before it are being switched back.
    """

    run_id: int
    frontend: str
    modules: int
    checked: bool
    problem: str | None
    at: datetime | None = field(default=None, compare=False)  # when its check ended


class RolloutPhase(StrEnum):
    """Where one front-end stands in a rolling switch, a soak, or a switch back (rules.md#load-balanced).

    A rolling run takes each front-end in turn through drained, switching, health, soaking,
    healthy, undrained; a run that soaks after its whole switch skips the drain. A failed hook or
    check puts the front-ends already switched through switched back (drained and undrained
    around it when they have hooks).
    """

    DRAINED = "drained"  # its drain command passed: the balancer sends it nothing
    SWITCHING = "switching"  # its modules are being switched to the run's releases
    HEALTH = "health"  # switched; its checks are tried until they pass or its health timeout
    SOAKING = "soaking"  # every switched front-end's checks must keep passing for ``seconds``
    HEALTHY = "healthy"  # its checks passed (and the soak, when there is one)
    UNDRAINED = "undrained"  # its undrain command passed: back in the balancer
    SWITCHED_BACK = "switched back"  # back on what it ran before the run
    FAILED = "failed"  # a hook or a check failed here: ``problem`` says which


@dataclass(frozen=True)
class FrontendPhase:
    """One front-end reached a phase of a rolling switch, a soak or a switch back.

    ``seconds`` is the soak's length when ``phase`` is SOAKING (its countdown starts at ``at``);
    ``problem`` names the check or hook that failed (FAILED, SWITCHED_BACK after a failure).
    """

    run_id: int
    frontend: str
    phase: RolloutPhase
    at: datetime
    seconds: float | None = None
    problem: str | None = None


Event = RunStarted | ItemStarted | ItemFinished | LogLine | RunFinished | FrontendSwitched | FrontendPhase
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
