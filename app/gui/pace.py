"""How long a run has left, from the pace of its last few seconds. No Qt.

The average since the run started misleads: the start (planning, reading every front-end,
starting worker processes) finishes no module, so the first estimates came out several times
too long (25 s said for a 12 s run). The pace counts from the first module finished, over a
sliding window, and says nothing until it has watched for long enough to mean something.
"""

from __future__ import annotations

from collections import deque

WINDOW_S = 5.0  # the pace of the last seconds: it follows a run that speeds up as workers warm
MIN_WATCHED_S = 2.0  # no estimate before the pace has been watched this long


class Pace:
    """Modules finished per second, from (time, finished so far) noted as the run goes."""

    def __init__(self) -> None:
        self._seen: deque[tuple[float, int]] = deque()

    def note(self, at: float, done: int) -> None:
        """``done`` modules finished at ``at`` (seconds, any clock that only goes forward)."""
        if done <= 0:
            return  # still starting: no module finished yet, nothing to measure
        seen = self._seen
        if seen and done == seen[-1][1] and len(seen) > 1 and seen[-2][1] == done:
            seen[-1] = (at, done)  # a pause: one sample says it, however long it lasts
        else:
            seen.append((at, done))
        while len(seen) > 2 and seen[1][0] <= at - WINDOW_S:
            seen.popleft()

    def per_second(self) -> float | None:
        if len(self._seen) < 2:
            return None
        (first, done_then), (last, done_now) = self._seen[0], self._seen[-1]
        watched = last - first
        if watched < MIN_WATCHED_S or done_now <= done_then:
            return None
        return (done_now - done_then) / watched

    def remaining(self, left: int) -> float | None:
        """Seconds for ``left`` more modules at the recent pace; None while it is not known."""
        rate = self.per_second()
        return None if rate is None or left <= 0 else left / rate
