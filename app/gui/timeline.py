"""A picture of one run: a lane per worker, a bar per module across time, coloured by status.

The engine does not say which worker deployed a module, so lanes are derived here: a module that
starts takes the first lane whose last module has finished (greedy interval packing), which is
what a pool of workers does. Modules the run never attempted (blocked, cancelled) are ticks in a
lane of their own (the top one), at the moment they were given up. A failed module is drawn over everything
else and outlined; the current module, when it failed, also lights up the consumers it blocked.

Drawing stays cheap at 10,000 modules: lanes are assigned once per module as it starts, and a
paint draws at most one rectangle per pixel column and lane (level of detail: where several
bars share a pixel, the one that matters most, a failure first, gives its colour).
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QEvent, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QHelpEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from app.engine.runs.planner import gc_paused
from app.engine.vocabulary import ItemStatus
from app.gui.formatting import duration, status_label, utcnow
from app.gui.run_progress import ItemRow, RunProgress

LANE_HEIGHT = 14
MIN_LANE_HEIGHT = 2
AXIS_HEIGHT = 16
MARGIN = 6
HIT_SLOP_PX = 3
TOOLTIP_NAMES = 6
# Where several bars share a pixel, the colour of the one that matters most wins.
WEIGHT: dict[str, int] = {ItemStatus.FAILED: 5, ItemStatus.DEPLOYING: 4, ItemStatus.BLOCKED: 3, ItemStatus.CANCELLED: 2}
UNATTEMPTED = frozenset({ItemStatus.BLOCKED, ItemStatus.CANCELLED})
HIGHLIGHT = QColor("#f0e442")
# The status icons' colours (resources/icons), which stay apart for colour-blind eyes too.
STATUS_COLORS: dict[str, str] = {
    ItemStatus.PENDING: "#9ca3af", ItemStatus.DEPLOYING: "#0072b2", ItemStatus.DEPLOYED: "#009e73",
    ItemStatus.PREPARED: "#009e73", ItemStatus.STAGED: "#56b4e9", ItemStatus.FAILED: "#d55e00",
    ItemStatus.BLOCKED: "#a2487e", ItemStatus.SKIPPED: "#7c8591", ItemStatus.CANCELLED: "#4b5563",
}
MIN_SPAN_S = 0.01
NARROW_PX = 4.0  # bars narrower than this merge with their neighbours of the same colour
THIN_LANE_PX = 6.0  # in lanes this thin no gap between bars shows: neighbours merge whatever their width
LIVE_SPAN_AHEAD = 2.0
MIN_LIVE_SPAN_S = 1.0
MIN_LABELLED_LANE = 10  # pixels: lower lanes get no counts written in them


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

    def span(self) -> float:
        """Seconds the picture covers: the run so far, or all of it."""
        p = self.progress
        end = p.finished_at if not p.running and p.finished_at else utcnow()
        return max(MIN_SPAN_S, (end - self.origin).total_seconds())


class RunTimeline(QWidget):
    """Paints a RunLanes; hovering names a module, clicking one emits its row.

    Two layers: a cached picture of the finished bars, the axis and the ticks, to which each
    paint adds only the bars that finished since (drawn again in full only when the size, the
    time scale or the lanes change), and a live layer painted every time over it: the bars still
    deploying, the failures and the selection. A live run's time scale is set ahead of it, twice
    what has elapsed, so that it changes (and the picture is redrawn) a few times per run.
    """

    row_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Run timeline")
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.lanes: RunLanes | None = None
        self.current: int | None = None  # the row selected in the table
        self.rects_drawn = 0  # rectangles of the last paint, both layers; tests check the level of detail
        self.full_draws = 0  # how often the cached layer was drawn again in full
        self._colors: dict[str, QColor] = {status: QColor(color) for status, color in STATUS_COLORS.items()}
        self._shown_span = 0.0
        self._frozen: tuple[float, float] | None = None  # scale and lane height, while painting
        self._cache: QPixmap | None = None
        self._cache_key: tuple[object, ...] = ()

    def sizeHint(self) -> QSize:
        return QSize(600, 160)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 60)

    # -- data -----------------------------------------------------------------------------------

    def show_run(self, progress: RunProgress | None) -> None:
        self.lanes = RunLanes(progress) if progress is not None else None
        self.current = None
        self._shown_span = 0.0
        self._cache = None
        self.update()

    def rows_changed(self, rows: Sequence[int]) -> None:
        """Rows that moved; drawn at the next paint (the window asks for one at its tick)."""
        if self.lanes is not None and rows:
            self.lanes.update(rows)

    def set_current(self, row: int | None) -> None:
        if row != self.current:
            self.current = row
            self.update()

    # -- geometry ---------------------------------------------------------------------------------

    def _lane_count(self) -> int:
        assert self.lanes is not None
        return len(self.lanes.lanes) + (1 if self.lanes.dropped else 0)

    def _lane_height(self) -> float:
        """Lanes share the height; counted up to the next power of two once they no longer fit at
        full height, so that a run adding lane after lane redraws its picture a few times only."""
        if self._frozen is not None:
            return self._frozen[1]
        count = max(1, self._lane_count())
        room = self.height() - AXIS_HEIGHT - 2 * MARGIN
        if count * LANE_HEIGHT > room:
            count = 1 << (count - 1).bit_length()
        return max(float(MIN_LANE_HEIGHT), min(float(LANE_HEIGHT), room / count))

    def _span(self) -> float:
        """Seconds across the widget: the whole run once it ended, ahead of a live one."""
        assert self.lanes is not None
        needed = self.lanes.span()
        if not self.lanes.progress.running:
            return needed
        if needed > self._shown_span:
            self._shown_span = max(needed * LIVE_SPAN_AHEAD, MIN_LIVE_SPAN_S)
        return self._shown_span

    def _scale(self) -> float:
        if self._frozen is not None:
            return self._frozen[0]
        return (self.width() - 2 * MARGIN) / self._span()

    def _x(self, seconds: float) -> float:
        return MARGIN + seconds * self._scale()

    def _lane_top(self, lane: int) -> float:
        """Top of a worker's lane; the lane of the modules never attempted, when any, comes first."""
        assert self.lanes is not None
        return AXIS_HEIGHT + MARGIN + (lane + (1 if self.lanes.dropped else 0)) * self._lane_height()

    def _dropped_top(self) -> float:
        return float(AXIS_HEIGHT + MARGIN)

    def _bar_rect(self, bar: Bar, lane: int, now: float) -> QRectF:
        left = self._x(bar.start)
        right = self._x(bar.end if bar.end is not None else now)
        return QRectF(left, self._lane_top(lane), max(2.0, right - left), max(1.0, self._lane_height() - 1))

    def bar_rect(self, row: int) -> QRectF | None:
        """Where a module is drawn (its bar, or its tick in the not-attempted lane)."""
        if self.lanes is None:
            return None
        bar = self.lanes.bar_of.get(row)
        if bar is not None:
            return self._bar_rect(bar, self.lanes.lane_of[row], self.lanes.span())
        when = self.lanes.dropped_at.get(row)
        if when is None:
            return None
        height = max(1.0, self._lane_height() - 1)
        return QRectF(self._x(when) - 1, self._dropped_top(), 3.0, height)

    def row_at(self, pos: QPoint) -> int | None:
        """The module under ``pos``; the nearest within a few pixels when bars are thin."""
        if self.lanes is None:
            return None
        slot = int((pos.y() - AXIS_HEIGHT - MARGIN) // self._lane_height())
        seconds = (pos.x() - MARGIN) / self._scale()
        slop = HIT_SLOP_PX / self._scale()
        if self.lanes.dropped and slot == 0:
            near = self.dropped_near(seconds, slop)
            return near[0] if near else None
        lane = slot - (1 if self.lanes.dropped else 0)
        if 0 <= lane < len(self.lanes.lanes):
            bars = self.lanes.lanes[lane]
            starts = [bar.start for bar in bars]
            at = bisect_right(starts, seconds + slop) - 1
            now = self.lanes.span()
            for bar in bars[max(0, at - 2):at + 1][::-1]:
                end = bar.end if bar.end is not None else now
                if bar.start - slop <= seconds <= end + slop:
                    return bar.row
        return None

    def dropped_near(self, seconds: float, slop: float) -> list[int]:
        """Rows given up within ``slop`` of ``seconds``: a failure blocks its consumers at one instant."""
        assert self.lanes is not None
        return [row for when, row in self.lanes.dropped if abs(when - seconds) <= slop]

    # -- events -----------------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def tooltip_at(self, pos: QPoint) -> str:
        row = self.row_at(pos)
        if row is None or self.lanes is None:
            return ""
        item = self.lanes.progress.rows[row]
        if item.status in UNATTEMPTED:
            lane_rows = self.dropped_near((pos.x() - MARGIN) / self._scale(), HIT_SLOP_PX / self._scale())
            if len(lane_rows) > 1:
                rows = self.lanes.progress.rows
                names = ", ".join(rows[n].module for n in lane_rows[:TOOLTIP_NAMES])
                more = f" and {len(lane_rows) - TOOLTIP_NAMES} more" if len(lane_rows) > TOOLTIP_NAMES else ""
                return f"Not attempted: {names}{more}\n{item.detail}"
        took = f", {duration(item.seconds)}" if item.seconds and item.status not in UNATTEMPTED else ""
        why = f"\n{item.detail}" if item.detail and item.status != ItemStatus.DEPLOYED else ""
        return f"{item.module} ({item.application}): {status_label(item.status)}{took}{why}"

    def mousePressEvent(self, event: QMouseEvent) -> None:
        row = self.row_at(event.position().toPoint())
        if row is not None and event.button() == Qt.MouseButton.LeftButton:
            self.row_clicked.emit(row)
        super().mousePressEvent(event)

    # -- painting ---------------------------------------------------------------------------------

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        self.rects_drawn = 0
        if self.lanes is None or not self._lane_count():
            painter.fillRect(self.rect(), self.palette().base())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "The run's modules appear here as they deploy")
            painter.end()
            return
        # One scale and lane height for the whole paint: thousands of bars ask for them.
        self._frozen = None
        self._frozen = (self._scale(), self._lane_height())
        try:
            painter.drawPixmap(0, 0, self._cached_layer())
            rows = self.lanes.progress.rows
            self._paint_running(painter)
            if self.lanes.dropped:
                self._paint_dropped_notes(painter, rows)
            self._paint_failures(painter)
        finally:
            self._frozen = None
            painter.end()

    def _cached_layer(self) -> QPixmap:
        """The finished bars, the axis and the ticks: drawn in full when the geometry changed, else
        brought up to date with the rows that moved since the last paint."""
        assert self.lanes is not None
        key = (self.width(), self.height(), self._span(), self._lane_height(), bool(self.lanes.dropped), id(self.lanes))
        rows = self.lanes.progress.rows
        if self._cache is None or key != self._cache_key:
            ratio = self.devicePixelRatioF()
            self._cache = QPixmap(int(self.width() * ratio), int(self.height() * ratio))
            self._cache.setDevicePixelRatio(ratio)
            self._cache.fill(self.palette().base().color())
            self._cache_key = key
            self.lanes.take_dirty()
            self.full_draws += 1
            painter = QPainter(self._cache)
            self._paint_axis(painter)
            for lane, bars in enumerate(self.lanes.lanes):
                self._paint_lane(painter, lane, bars, rows)
            if self.lanes.dropped:
                self._paint_dropped(painter, self.lanes.dropped, rows)
            painter.end()
            return self._cache
        dirty = self.lanes.take_dirty()
        if dirty:
            painter = QPainter(self._cache)
            dropped = []
            for row in dirty:
                bar = self.lanes.bar_of.get(row)
                if bar is not None and bar.end is not None:
                    self._fill(painter, self._bar_rect(bar, self.lanes.lane_of[row], 0.0).adjusted(0, 0, -1, 0),
                               rows[row].status)
                elif bar is None:
                    dropped.append(row)
            if dropped:
                at = self.lanes.dropped_at
                self._paint_dropped(painter, [(at[n], n) for n in dropped if n in at], rows)
            painter.end()
        return self._cache

    def _paint_axis(self, painter: QPainter) -> None:
        span = self._span()
        step = _nice_step(span / max(1, (self.width() - 2 * MARGIN) // 90))
        metrics = painter.fontMetrics()
        tick = 0.0
        while tick <= span:
            x = int(self._x(tick))
            painter.setPen(self.palette().mid().color())
            painter.drawLine(x, AXIS_HEIGHT - 4, x, self.height() - MARGIN)
            painter.setPen(self.palette().text().color())
            painter.drawText(x + 2, AXIS_HEIGHT - 5 - (metrics.height() - metrics.ascent()) // 2, duration(tick))
            tick += step

    def _paint_lane(self, painter: QPainter, lane: int, bars: list[Bar], rows: list[ItemRow]) -> None:
        """Neighbouring narrow bars of one colour become one rectangle: 10,000 bars, a few hundred.

        A bar narrower than a few pixels (or any bar in lanes too thin to show a gap) that starts
        where the last one ended joins it; within a pixel the more important status keeps the
        colour. Bars still deploying are left to the live layer.
        """
        top, height = self._lane_top(lane), max(1.0, self._lane_height() - 1)
        scale = self._scale()
        thin = height < THIN_LANE_PX
        run_left = run_right = -1.0
        run_status = ""
        for bar in bars:
            if bar.end is None:
                continue
            status = rows[bar.row].status
            left = MARGIN + bar.start * scale
            right = MARGIN + bar.end * scale
            joins = (thin or right - left < NARROW_PX) and left <= run_right + 1
            if joins and (status == run_status or WEIGHT.get(status, 0) <= WEIGHT.get(run_status, 0)):
                run_right = max(run_right, right)
                continue
            if run_status:
                self._fill(painter, QRectF(run_left, top, max(1.0, run_right - run_left - 1), height), run_status)
            run_left, run_right, run_status = left, right, status
        if run_status:
            self._fill(painter, QRectF(run_left, top, max(1.0, run_right - run_left - 1), height), run_status)

    def _paint_dropped(self, painter: QPainter, dropped: Sequence[tuple[float, int]], rows: list[ItemRow]) -> None:
        """Ticks of the modules never attempted, one per pixel (the most important status wins)."""
        assert self.lanes is not None
        top, height = self._dropped_top(), max(1.0, self._lane_height() - 1)
        pixels: dict[int, str] = {}
        for when, row in dropped:
            x, status = int(self._x(when)), rows[row].status
            if WEIGHT.get(status, 0) >= WEIGHT.get(pixels.get(x, ""), -1):
                pixels[x] = status
        for x, status, width in _pixel_runs(pixels):
            self._fill(painter, QRectF(x - 1, top, width + 2, height), status)

    def _paint_running(self, painter: QPainter) -> None:
        assert self.lanes is not None
        now = self.lanes.span()
        for row, lane in self.lanes.running.items():
            self._fill(painter, self._bar_rect(self.lanes.bar_of[row], lane, now).adjusted(0, 0, -1, 0),
                       ItemStatus.DEPLOYING)

    def _paint_dropped_notes(self, painter: QPainter, rows: list[ItemRow]) -> None:
        """How many were given up at each instant, and the consumers the selected failure blocked."""
        assert self.lanes is not None
        top, height = self._dropped_top(), max(1.0, self._lane_height() - 1)
        if height >= MIN_LABELLED_LANE:
            many: dict[int, int] = {}
            for when, _row in self.lanes.dropped:
                x = int(self._x(when))
                many[x] = many.get(x, 0) + 1
            painter.setPen(self.palette().text().color())
            for x, count in _clusters(many):
                if count > 1:
                    painter.drawText(QRectF(x + 4, top - 2, 60, height + 4), Qt.AlignmentFlag.AlignVCenter,
                                     f"×{count}")
        chain = self._blocked_by_current(rows)
        if chain:  # outlined, over the rest
            painter.setPen(QPen(HIGHLIGHT.darker(150), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for when, row in self.lanes.dropped:
                if row in chain:
                    painter.drawRect(QRectF(self._x(when) - 2, top - 1, 5, height + 2))
                    self.rects_drawn += 1

    def _paint_failures(self, painter: QPainter) -> None:
        """Failed modules stand out: at least three pixels wide and outlined, drawn last."""
        assert self.lanes is not None
        red = self._colors[ItemStatus.FAILED]
        painter.setPen(QPen(red.darker(160), 1))
        painter.setBrush(red)
        for row in self.lanes.failed:
            rect = self.bar_rect(row)
            if rect is not None:
                if rect.width() < 3:
                    rect = QRectF(rect.center().x() - 1.5, rect.top(), 3, rect.height())
                painter.drawRect(rect)
                self.rects_drawn += 1
        chosen = self.bar_rect(self.current) if self.current is not None else None
        if chosen is not None:  # the module selected in the table
            painter.setPen(QPen(HIGHLIGHT.darker(130), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(chosen.adjusted(-1, -1, 1, 1))
            self.rects_drawn += 1

    def _blocked_by_current(self, rows: list[ItemRow]) -> set[int]:
        if self.current is None or rows[self.current].status != ItemStatus.FAILED:
            return set()
        return set(blocked_by(rows, rows[self.current].module))

    def _fill(self, painter: QPainter, rect: QRectF, status: str) -> None:
        painter.fillRect(rect, self._colors.get(status, self._colors[ItemStatus.PENDING]))
        self.rects_drawn += 1


BLOCKED_REASON = "producer {} failed"  # the engine's reason for a blocked item: it names the root failure


def blocked_by(rows: Sequence[ItemRow], producer: str) -> list[int]:
    """Rows the failure of ``producer`` blocked, direct and indirect (the engine names the root)."""
    reason = BLOCKED_REASON.format(producer)
    return [n for n, row in enumerate(rows) if row.status == ItemStatus.BLOCKED and row.reason == reason]


def blocking_producer(reason: str) -> str | None:
    """The failed producer a blocked item's reason names, if it is the engine's wording."""
    head, _, tail = BLOCKED_REASON.partition("{}")
    if reason.startswith(head) and reason.endswith(tail) and len(reason) > len(head) + len(tail):
        return reason[len(head):len(reason) - len(tail)]
    return None


def _pixel_runs(pixels: dict[int, str]) -> Iterable[tuple[int, str, int]]:
    """(first x, status, width) of each run of neighbouring pixels of one status."""
    run: list[int | str] = []
    for x in sorted(pixels):
        status = pixels[x]
        if run and run[1] == status and int(run[0]) + int(run[2]) == x:
            run[2] = int(run[2]) + 1
            continue
        if run:
            yield int(run[0]), str(run[1]), int(run[2])
        run = [x, status, 1]
    if run:
        yield int(run[0]), str(run[1]), int(run[2])


def _clusters(counts: dict[int, int], gap: int = 3) -> Iterable[tuple[int, int]]:
    """(last x, total) of each group of pixels at most ``gap`` apart."""
    last, total = None, 0
    for x in sorted(counts):
        if last is not None and x - last > gap:
            yield last, total
            total = 0
        last, total = x, total + counts[x]
    if last is not None:
        yield last, total


def _nice_step(raw: float) -> float:
    """A round number of seconds near ``raw`` for the axis: 1, 2, 5, 10, 15, 30, 60, ..."""
    for step in (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600,
                 900, 1800, 3600):
        if step >= raw:
            return float(step)
    return 3600.0 * (int(raw // 3600) + 1)


