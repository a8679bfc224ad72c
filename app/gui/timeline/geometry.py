"""Where the timeline puts things: the time scale and its axis labels, the lanes' heights and
labels, each module's rectangle, and which module (or rolling step) lies under a point.

A TimelineFrame is measured for one size of the widget and used whole: a paint measures one and
draws thousands of bars with it. The lane of the modules never attempted, when there are any,
is the top one, above the workers' lanes; a rolling run's front-ends get a lane each, under the
workers'. The lanes' names take a gutter on the left. A live run's time scale is set ahead of it
(LiveSpan), twice what has elapsed, so that it changes (and the picture is drawn again) a few
times per run.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from PySide6.QtCore import QPoint, QRectF

from app.gui.rollout import PhaseSpan
from app.gui.timeline.lanes import Bar, RunLanes

LANE_HEIGHT = 14
MIN_LANE_HEIGHT = 2
AXIS_HEIGHT = 16
MARGIN = 6
HIT_SLOP_PX = 3
LIVE_SPAN_AHEAD = 2.0
MIN_LIVE_SPAN_S = 1.0
GUTTER = 72  # the lanes' names, left of the time scale
FRONTEND_GAP = 4  # between the workers' lanes and the front-ends' lanes of a rolling run
# Tick steps of the time axis, in seconds; the first whose labels fit is used.
AXIS_STEPS = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400,
)  # fmt: skip


def lane_count(lanes: RunLanes) -> int:
    """Lanes drawn: one per worker, one for the modules never attempted when there are any, and one
    per front-end of a rolling run."""
    return len(lanes.lanes) + (1 if lanes.dropped else 0) + len(lanes.frontends())


def frontend_lane_height(count: int, height: int) -> float:
    """A rolling run's front-end lanes keep full height (named, each one): at most half the room."""
    if not count:
        return 0.0
    room = height - AXIS_HEIGHT - 2 * MARGIN - FRONTEND_GAP
    return max(float(MIN_LANE_HEIGHT), min(float(LANE_HEIGHT), room / (2 * count)))


def axis_label(seconds: float, step: float) -> str:
    """A tick's label, exactly as precise as the step: ticks one step apart never read the same."""
    if step < 0.1:
        return f"{round(seconds * 1000)} ms"
    if step < 1:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if whole < 60:
        return f"{secs} s"
    parts = [f"{hours} h"] if hours else []
    if step < 3600 or minutes:
        parts.append(f"{minutes:02d} min" if hours else f"{minutes} min")
    if step < 60:
        parts.append(f"{secs:02d} s")
    return " ".join(parts)


def axis_ticks(span: float, step: float) -> list[tuple[float, str]]:
    """(seconds, label) of each tick from 0 to ``span``; counted in steps, never summed (no drift)."""
    return [(k * step, axis_label(k * step, step)) for k in range(_steps(span, step) + 1)]


def last_tick(span: float, step: float) -> float:
    """The last tick within ``span``: its label is the widest."""
    return _steps(span, step) * step


def _steps(span: float, step: float) -> int:
    return int(span / step + 1e-9)


def lane_name(lane: int) -> str:
    return f"worker {lane + 1}"


def lane_height(count: int, height: int) -> float:
    """Lanes share the height; counted up to the next power of two once they no longer fit at
    full height, so that a run adding lane after lane redraws its picture a few times only."""
    count = max(1, count)
    room = height - AXIS_HEIGHT - 2 * MARGIN
    if count * LANE_HEIGHT > room:
        count = 1 << (count - 1).bit_length()
    return max(float(MIN_LANE_HEIGHT), min(float(LANE_HEIGHT), room / count))


class LiveSpan:
    """Seconds across the widget: the whole run once it ended, ahead of a live one."""

    def __init__(self) -> None:
        self._shown = 0.0

    def reset(self) -> None:
        self._shown = 0.0

    def seconds(self, lanes: RunLanes) -> float:
        needed = lanes.span()
        if not lanes.progress.running:
            return needed
        if needed > self._shown:
            self._shown = max(needed * LIVE_SPAN_AHEAD, MIN_LIVE_SPAN_S)
        return self._shown


@dataclass(frozen=True)
class TimelineFrame:
    """One run's lanes laid out on a widget of one size, with one time scale and one lane height."""

    lanes: RunLanes
    width: int
    height: int
    span: float  # seconds across the widget
    scale: float  # pixels per second
    lane_height: float  # a worker's lane, and the not-attempted lane
    frontend_height: float = 0.0  # a rolling run's front-end lane

    @classmethod
    def measure(cls, lanes: RunLanes, width: int, height: int, span: float) -> TimelineFrame:
        scale = max(1.0, width - 2 * MARGIN - GUTTER) / span
        frontends = len(lanes.frontends())
        kept = frontend_lane_height(frontends, height)
        rest = height - int(frontends * kept + (FRONTEND_GAP if frontends else 0))
        workers = len(lanes.lanes) + (1 if lanes.dropped else 0)
        return cls(lanes, width, height, span, scale, lane_height(workers, rest), kept)

    @property
    def bar_height(self) -> float:
        return max(1.0, self.lane_height - 1)

    @property
    def dropped_top(self) -> float:
        return float(AXIS_HEIGHT + MARGIN)

    def x(self, seconds: float) -> float:
        return MARGIN + GUTTER + seconds * self.scale

    def seconds_at(self, x: int) -> float:
        return (x - MARGIN - GUTTER) / self.scale

    def slop(self) -> float:
        """A few pixels, in seconds: how far from a thin bar a point still hits it."""
        return HIT_SLOP_PX / self.scale

    def lane_top(self, lane: int) -> float:
        """Top of a worker's lane; the lane of the modules never attempted, when any, comes first."""
        return AXIS_HEIGHT + MARGIN + (lane + (1 if self.lanes.dropped else 0)) * self.lane_height

    def frontend_top(self, number: int) -> float:
        """Top of a rolling run's front-end lane (``number`` in switch order), under the workers'."""
        return self.lane_top(len(self.lanes.lanes)) + FRONTEND_GAP + number * self.frontend_height

    def span_rect(self, span: PhaseSpan, number: int, now: float) -> QRectF:
        """Where one step of a rolling run is drawn in its front-end's lane."""
        origin = self.lanes.origin
        left = self.x(max(0.0, (span.start - origin).total_seconds()))
        right = self.x((span.end - origin).total_seconds()) if span.end is not None else self.x(now)
        return QRectF(left, self.frontend_top(number), max(2.0, right - left), max(1.0, self.frontend_height - 1))

    def span_at(self, pos: QPoint) -> PhaseSpan | None:
        """The rolling step under ``pos``, in a front-end's lane."""
        names = self.lanes.frontends()
        if not names:
            return None
        number = int((pos.y() - self.frontend_top(0)) // self.frontend_height)
        if pos.y() < self.frontend_top(0) or not 0 <= number < len(names):
            return None
        now = self.lanes.span()
        for span in self.lanes.spans_of(names[number]):
            if self.span_rect(span, number, now).adjusted(-HIT_SLOP_PX, 0, HIT_SLOP_PX, 0).contains(pos.toPointF()):
                return span
        return None

    def bar_rect(self, bar: Bar, lane: int, now: float) -> QRectF:
        left = self.x(bar.start)
        right = self.x(bar.end if bar.end is not None else now)
        return QRectF(left, self.lane_top(lane), max(2.0, right - left), self.bar_height)

    def rect_of(self, row: int) -> QRectF | None:
        """Where a module is drawn (its bar, or its tick in the not-attempted lane)."""
        bar = self.lanes.bar_of.get(row)
        if bar is not None:
            return self.bar_rect(bar, self.lanes.lane_of[row], self.lanes.span())
        when = self.lanes.dropped_at.get(row)
        if when is None:
            return None
        return QRectF(self.x(when) - 1, self.dropped_top, 3.0, self.bar_height)

    def row_at(self, pos: QPoint) -> int | None:
        """The module under ``pos``; the nearest within a few pixels when bars are thin."""
        slot = int((pos.y() - AXIS_HEIGHT - MARGIN) // self.lane_height)
        seconds = self.seconds_at(pos.x())
        slop = self.slop()
        if self.lanes.dropped and slot == 0:
            near = self.dropped_near(seconds, slop)
            return near[0] if near else None
        lane = slot - (1 if self.lanes.dropped else 0)
        if 0 <= lane < len(self.lanes.lanes):
            bars = self.lanes.lanes[lane]
            starts = [bar.start for bar in bars]
            at = bisect_right(starts, seconds + slop) - 1
            now = self.lanes.span()
            for bar in bars[max(0, at - 2) : at + 1][::-1]:
                end = bar.end if bar.end is not None else now
                if bar.start - slop <= seconds <= end + slop:
                    return bar.row
        return None

    def dropped_near(self, seconds: float, slop: float) -> list[int]:
        """Rows given up within ``slop`` of ``seconds``: a failure blocks its consumers at one instant."""
        return [row for when, row in self.lanes.dropped if abs(when - seconds) <= slop]
