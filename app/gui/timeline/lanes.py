"""The timeline's model: one run's modules as bars in worker lanes, kept up to date as rows move.

The engine does not say which worker deployed a module, so lanes are derived here: a module that
starts takes the first lane whose last module has finished (greedy interval packing), which is
what a pool of workers does. Modules the run never attempted (blocked, cancelled) are not bars:
they are kept apart, with the moment they were given up. No Qt here.

Lanes are assigned once per module as it starts, so following 10,000 modules stays cheap.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.engine.gc_pause import gc_paused
from app.engine.vocabulary import ItemStatus
from app.gui.formatting import utcnow
from app.gui.rollout import PhaseSpan
from app.gui.run_progress import ItemRow, RunProgress

UNATTEMPTED = frozenset({ItemStatus.BLOCKED, ItemStatus.CANCELLED})
MIN_SPAN_S = 0.01


@dataclass(frozen=True)
class Bar:
    row: int  # the module's row in its run
    start: float  # seconds since the run started
    end: float | None  # None while it deploys


def pack_lanes(intervals: Iterable[tuple[float, float]]) -> list[int]:
    """The lane of each (start, end) interval: the lowest lane free at its start, in start order."""
    spans = list(intervals)
    order = sorted(range(len(spans)), key=lambda n: spans[n][0])
    lanes = [0] * len(spans)
    busy: list[tuple[float, int]] = []  # (end, lane) of the lanes in use
    free: list[int] = []
    for n in order:
        start, end = spans[n]
        while busy and busy[0][0] <= start:
            heapq.heappush(free, heapq.heappop(busy)[1])
        lane = heapq.heappop(free) if free else len(busy) + len(free)
        lanes[n] = lane
        heapq.heappush(busy, (end, lane))
    return lanes


class RunLanes:
    """Bars of one run in their lanes, kept up to date from the rows that changed."""

    def __init__(self, progress: RunProgress) -> None:
        """Packs what has started; for 10,000 modules with the collector paused (it would rescan them)."""
        self.progress = progress
        self.origin = progress.started_at
        self.lanes: list[list[Bar]] = []
        self.lane_of: dict[int, int] = {}
        self.dropped: list[tuple[float, int]] = []  # (when, row) of modules never attempted
        self.dropped_at: dict[int, float] = {}
        self.bar_of: dict[int, Bar] = {}
        self.failed: list[int] = []  # rows whose bar ended failed, drawn over everything
        self.running: dict[int, int] = {}  # row -> its lane, while it deploys
        self.dirty: list[int] = []  # rows placed, closed or dropped since the widget last drew
        self._lane_end: list[float] = []  # when each lane's last bar ended (inf while one runs)
        self.version = 0
        with gc_paused():
            self._place_finished_rows()

    def _seconds(self, at: datetime | None) -> float | None:
        return None if at is None else max(0.0, (at - self.origin).total_seconds())

    def _place_finished_rows(self) -> None:
        """A run seen from its start or from its record: pack what has started, in one go."""
        rows = self.progress.rows
        started = [n for n, row in enumerate(rows) if row.started_at is not None]
        spans = [(self._seconds(rows[n].started_at) or 0.0, self._end_of(rows[n])) for n in started]
        lanes = pack_lanes((start, end if end is not None else float("inf")) for start, end in spans)
        for n, (start, end), lane in zip(started, spans, lanes, strict=True):
            self._put(n, start, end, lane)
        for n, row in enumerate(rows):
            if row.started_at is None and row.status in UNATTEMPTED:
                self._drop(n, row)
        for bars in self.lanes:
            bars.sort(key=lambda bar: bar.start)
        self.version += 1

    def _end_of(self, row: ItemRow) -> float | None:
        if row.status == ItemStatus.DEPLOYING:
            return None
        end = self._seconds(row.finished_at)
        if end is None and row.seconds is not None:
            end = (self._seconds(row.started_at) or 0.0) + row.seconds
        return end

    def _put(self, row: int, start: float, end: float | None, lane: int) -> None:
        while len(self.lanes) <= lane:
            self.lanes.append([])
            self._lane_end.append(0.0)
        bar = Bar(row, start, end)
        self.lanes[lane].append(bar)
        self.lane_of[row] = lane
        self.bar_of[row] = bar
        self._lane_end[lane] = float("inf") if end is None else max(self._lane_end[lane], end)
        if end is None:
            self.running[row] = lane
        elif self.progress.rows[row].status == ItemStatus.FAILED:
            self.failed.append(row)

    def _drop(self, row: int, item: ItemRow) -> None:
        if row not in self.dropped_at:
            when = self._seconds(item.finished_at) or 0.0
            self.dropped_at[row] = when
            self.dropped.append((when, row))

    def update(self, rows: Sequence[int]) -> None:
        """Rows that moved: a start takes a free lane, a finish closes its bar; O(moved)."""
        items = self.progress.rows
        for n in sorted(rows, key=lambda n: self._seconds(items[n].started_at) or 0.0):
            row = items[n]
            if row.started_at is None:
                if row.status in UNATTEMPTED:
                    self._drop(n, row)
                    self.dirty.append(n)
                continue
            if n in self.running and row.status != ItemStatus.DEPLOYING:
                self._close(n, row)
                self.dirty.append(n)
            elif n not in self.lane_of:
                start = self._seconds(row.started_at) or 0.0
                lane = next((k for k, end in enumerate(self._lane_end) if end <= start), len(self._lane_end))
                self._put(n, start, self._end_of(row), lane)
                self.dirty.append(n)
        self.version += 1

    def take_dirty(self) -> list[int]:
        dirty, self.dirty = self.dirty, []
        return dirty

    def _close(self, n: int, row: ItemRow) -> None:
        lane = self.running.pop(n)
        bars = self.lanes[lane]
        at = next(k for k in range(len(bars) - 1, -1, -1) if bars[k].row == n)
        end = self._end_of(row)
        bars[at] = self.bar_of[n] = Bar(n, bars[at].start, end)
        self._lane_end[lane] = end if end is not None else float("inf")
        if row.status == ItemStatus.FAILED:
            self.failed.append(n)

    def frontends(self) -> list[str]:
        """A rolling run's front-ends, each with a lane of its own for its switch and health check."""
        rollout = self.progress.rollout
        return rollout.lanes() if rollout is not None else []

    def spans_of(self, frontend: str) -> list[PhaseSpan]:
        rollout = self.progress.rollout
        return rollout.spans_of(frontend) if rollout is not None else []

    def span(self) -> float:
        """Seconds the picture covers: the run so far, or all of it."""
        p = self.progress
        end = p.finished_at if not p.running and p.finished_at else utcnow()
        return max(MIN_SPAN_S, (end - self.origin).total_seconds())
