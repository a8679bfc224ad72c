"""A rolling run's phases as the window shows them: first the staging, on every front-end at once,
then each front-end in turn, switched and then checked. No Qt.

Folded by ``RunProgress`` from the engine's ``FrontendPhase`` events (a step begins) and
``FrontendSwitched`` (a front-end is done, or its check failed); the run's first event names the
front-ends in the order they will switch. The progress bar, the remaining time and the timeline's
front-end lanes all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from app.engine.events import FrontendPhase, RolloutPhase

STAGE_PHASE = "stage"  # every front-end at once, before the first one switches
# Phases that end a front-end's step rather than begin one.
ENDINGS = frozenset({RolloutPhase.HEALTHY, RolloutPhase.UNDRAINED, RolloutPhase.SWITCHED_BACK, RolloutPhase.FAILED})
# What the switch is doing on a front-end in each phase, for the progress line.
DOING: dict[str, str] = {
    RolloutPhase.DRAINED: "draining",
    RolloutPhase.SWITCHING: "switching",
    RolloutPhase.HEALTH: "checking the health of",
    RolloutPhase.SOAKING: "soaking",
    RolloutPhase.HEALTHY: "undraining",
    RolloutPhase.UNDRAINED: "done with",
    RolloutPhase.SWITCHED_BACK: "switching back",
    RolloutPhase.FAILED: "switching back from",
}


@dataclass(frozen=True)
class PhaseSpan:
    """One step of a rolling run: ``frontend`` None for the staging, which every front-end does at once."""

    frontend: str | None
    phase: str  # STAGE_PHASE, or the RolloutPhase the front-end entered
    start: datetime
    end: datetime | None = None  # None while it goes on
    problem: str | None = None  # the check (or switch) that failed, on the front-end's last step


class Rollout:
    """The phases of one rolling run, as they begin and end."""

    def __init__(self, started_at: datetime, order: tuple[str, ...] = ()) -> None:
        self.order = list(order)  # the front-ends, in the order they switch
        self.spans: list[PhaseSpan] = [PhaseSpan(None, STAGE_PHASE, started_at)]
        self.finished: list[str] = []  # front-ends whose switch and check are over, in order

    @property
    def staging(self) -> bool:
        return self.spans[-1].phase == STAGE_PHASE and self.spans[-1].end is None

    @property
    def current(self) -> PhaseSpan | None:
        """The step going on now, if any."""
        last = self.spans[-1]
        return last if last.end is None else None

    def begin(self, event: FrontendPhase) -> None:
        """A step begins on a front-end: the one before it (the staging, first) ends there. A phase
        that only says how a step ended (healthy, undrained, failed, switched back) ends it."""
        if event.phase in ENDINGS:
            self._close(event.at, event.problem)
            return
        self._close(event.at)
        if event.frontend not in self.order:
            self.order.append(event.frontend)
        self.spans.append(PhaseSpan(event.frontend, event.phase, event.at))

    def frontend_done(self, frontend: str, problem: str | None, at: datetime) -> None:
        """The front-end's switch and check are over (``problem``: what failed)."""
        self._close(at, problem)
        if frontend not in self.finished:
            self.finished.append(frontend)

    def end(self, at: datetime) -> None:
        """The run ended: whatever step was going on is over."""
        self._close(at)

    def _close(self, at: datetime, problem: str | None = None) -> None:
        last = self.spans[-1]
        if last.end is None:
            self.spans[-1] = replace(last, end=max(at, last.start), problem=problem)

    def lanes(self) -> list[str]:
        """The front-ends' lanes, in switch order."""
        return list(self.order)

    def spans_of(self, frontend: str) -> list[PhaseSpan]:
        return [span for span in self.spans if span.frontend == frontend]

    def switching_text(self) -> str | None:
        """What the switch is doing now, e.g. "switching web2 (2 of 3)"; None before and after it."""
        step = self.current
        if step is None or step.frontend is None:
            return None
        where = f"{step.frontend} ({self.order.index(step.frontend) + 1} of {len(self.order)})"
        return f"{DOING.get(step.phase, step.phase)} {where}"

    def seconds_per_frontend(self) -> float | None:
        """How long one front-end's switch and check took, on average, once one is done."""
        took = []
        for name in self.finished:
            spans = self.spans_of(name)
            if spans and spans[-1].end is not None:
                took.append((spans[-1].end - spans[0].start).total_seconds())
        return sum(took) / len(took) if took else None
