"""A picture of one run: a lane per worker, a bar per module across time, coloured by status.

The engine does not say which worker deployed a module, so lanes are derived here: a module that
starts takes the first lane whose last module has finished (greedy interval packing), which is
what a pool of workers does. Modules the run never attempted (blocked, cancelled) are ticks in a
lane of their own, at the moment they were given up. A failed module is drawn over everything
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
from PySide6.QtGui import QColor, QHelpEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

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
        self.progress = progress
        self.origin = progress.started_at
        self.lanes: list[list[Bar]] = []
        self.lane_of: dict[int, int] = {}
        self.dropped: list[tuple[float, int]] = []  # (when, row) of modules never attempted
        self._dropped_rows: set[int] = set()
        self._running: dict[int, int] = {}  # row -> its lane, while it deploys
        self._lane_end: list[float] = []  # when each lane's last bar ended (inf while one runs)
        self.version = 0
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
        self.lanes[lane].append(Bar(row, start, end))
        self.lane_of[row] = lane
        self._lane_end[lane] = float("inf") if end is None else max(self._lane_end[lane], end)
        if end is None:
            self._running[row] = lane

    def _drop(self, row: int, item: ItemRow) -> None:
        if row not in self._dropped_rows:
            self._dropped_rows.add(row)
            self.dropped.append((self._seconds(item.finished_at) or 0.0, row))

    def update(self, rows: Sequence[int]) -> None:
        """Rows that moved: a start takes a free lane, a finish closes its bar; O(moved)."""
        items = self.progress.rows
        for n in sorted(rows, key=lambda n: self._seconds(items[n].started_at) or 0.0):
            row = items[n]
            if row.started_at is None:
                if row.status in UNATTEMPTED:
                    self._drop(n, row)
                continue
            if n in self._running and row.status != ItemStatus.DEPLOYING:
                self._close(n, row)
            elif n not in self.lane_of:
                start = self._seconds(row.started_at) or 0.0
                lane = next((k for k, end in enumerate(self._lane_end) if end <= start), len(self._lane_end))
                self._put(n, start, self._end_of(row), lane)
        self.version += 1

    def _close(self, n: int, row: ItemRow) -> None:
        lane = self._running.pop(n)
        bars = self.lanes[lane]
        at = next(k for k in range(len(bars) - 1, -1, -1) if bars[k].row == n)
        end = self._end_of(row)
        bars[at] = Bar(n, bars[at].start, end)
        self._lane_end[lane] = end if end is not None else float("inf")

    def span(self) -> float:
        """Seconds the picture covers: the run so far, or all of it."""
        p = self.progress
        end = p.finished_at if not p.running and p.finished_at else utcnow()
        return max(MIN_SPAN_S, (end - self.origin).total_seconds())


class RunTimeline(QWidget):
    """Paints a RunLanes; hovering names a module, clicking one emits its row."""

    row_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Run timeline")
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.lanes: RunLanes | None = None
        self.current: int | None = None  # the row selected in the table
        self.rects_drawn = 0  # rectangles of the last paint; tests check the level of detail
        self._colors: dict[str, QColor] = {status: QColor(color) for status, color in STATUS_COLORS.items()}

    def sizeHint(self) -> QSize:
        return QSize(600, 160)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 60)

    # -- data -----------------------------------------------------------------------------------

    def show_run(self, progress: RunProgress | None) -> None:
        self.lanes = RunLanes(progress) if progress is not None else None
        self.current = None
        self.update()

    def rows_changed(self, rows: Sequence[int]) -> None:
        if self.lanes is not None and rows:
            self.lanes.update(rows)
            self.update()

    def set_current(self, row: int | None) -> None:
        if row != self.current:
            self.current = row
            self.update()

    # -- geometry ---------------------------------------------------------------------------------

    def _lane_count(self) -> int:
        assert self.lanes is not None
        return len(self.lanes.lanes) + (1 if self.lanes.dropped else 0)

    def _lane_height(self) -> float:
        count = max(1, self._lane_count())
        room = self.height() - AXIS_HEIGHT - 2 * MARGIN
        return max(float(MIN_LANE_HEIGHT), min(float(LANE_HEIGHT), room / count))

    def _scale(self) -> float:
        assert self.lanes is not None
        return (self.width() - 2 * MARGIN) / self.lanes.span()

    def _x(self, seconds: float) -> float:
        return MARGIN + seconds * self._scale()

    def _lane_top(self, lane: int) -> float:
        return AXIS_HEIGHT + MARGIN + lane * self._lane_height()

    def bar_rect(self, row: int) -> QRectF | None:
        """Where a module is drawn (its bar, or its tick in the not-attempted lane)."""
        if self.lanes is None:
            return None
        height = self._lane_height()
        lane = self.lanes.lane_of.get(row)
        if lane is not None:
            bar = next(b for b in self.lanes.lanes[lane] if b.row == row)
            end = bar.end if bar.end is not None else self.lanes.span()
            left = self._x(bar.start)
            return QRectF(left, self._lane_top(lane), max(2.0, self._x(end) - left), max(1.0, height - 1))
        when = next((at for at, n in self.lanes.dropped if n == row), None)
        if when is None:
            return None
        return QRectF(self._x(when) - 1, self._lane_top(len(self.lanes.lanes)), 3.0, max(1.0, height - 1))

    def row_at(self, pos: QPoint) -> int | None:
        """The module under ``pos``; the nearest within a few pixels when bars are thin."""
        if self.lanes is None:
            return None
        lane = int((pos.y() - AXIS_HEIGHT - MARGIN) // self._lane_height())
        seconds = (pos.x() - MARGIN) / self._scale()
        slop = HIT_SLOP_PX / self._scale()
        if 0 <= lane < len(self.lanes.lanes):
            bars = self.lanes.lanes[lane]
            starts = [bar.start for bar in bars]
            at = bisect_right(starts, seconds + slop) - 1
            span = self.lanes.span()
            for bar in bars[max(0, at - 2):at + 1][::-1]:
                end = bar.end if bar.end is not None else span
                if bar.start - slop <= seconds <= end + slop:
                    return bar.row
            return None
        if lane == len(self.lanes.lanes):
            near = self.dropped_near(seconds, slop)
            return near[0] if near else None
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
        painter.fillRect(self.rect(), self.palette().base())
        self.rects_drawn = 0
        if self.lanes is None or not self._lane_count():
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "The run's modules appear here as they deploy")
            painter.end()
            return
        self._paint_axis(painter)
        rows = self.lanes.progress.rows
        failed: list[QRectF] = []
        for lane, bars in enumerate(self.lanes.lanes):
            failed += self._paint_lane(painter, lane, bars, rows)
        if self.lanes.dropped:
            self._paint_dropped(painter, rows)
        self._paint_failures(painter, failed)
        painter.end()

    def _paint_axis(self, painter: QPainter) -> None:
        assert self.lanes is not None
        span = self.lanes.span()
        step = _nice_step(span / max(1, (self.width() - 2 * MARGIN) // 90))
        painter.setPen(self.palette().mid().color())
        metrics = painter.fontMetrics()
        tick = 0.0
        while tick <= span:
            x = int(self._x(tick))
            painter.drawLine(x, AXIS_HEIGHT - 4, x, self.height() - MARGIN)
            painter.setPen(self.palette().text().color())
            painter.drawText(x + 2, AXIS_HEIGHT - 5 - (metrics.height() - metrics.ascent()) // 2, duration(tick))
            painter.setPen(self.palette().mid().color())
            tick += step

    def _paint_lane(self, painter: QPainter, lane: int, bars: list[Bar], rows: list[ItemRow]) -> list[QRectF]:
        """One rectangle per run of pixels of one colour: 10,000 bars cost a few hundred rectangles.

        Returns where the failed modules are, for ``_paint_failures`` to draw over everything.
        """
        assert self.lanes is not None
        top, height = self._lane_top(lane), max(1.0, self._lane_height() - 1)
        span, scale = self.lanes.span(), self._scale()
        pixels: dict[int, str] = {}
        spans: list[tuple[float, float, str]] = []
        failed: list[QRectF] = []
        for bar in bars:
            status = rows[bar.row].status
            left = MARGIN + bar.start * scale
            right = MARGIN + (bar.end if bar.end is not None else span) * scale
            if status == ItemStatus.FAILED:
                failed.append(QRectF(left, top, max(3.0, right - left), height))
            if right - left >= 2:
                spans.append((left, right, status))
                continue
            x = int(left)  # thinner than two pixels: one pixel, whose most important bar wins
            if WEIGHT.get(status, 0) >= WEIGHT.get(pixels.get(x, ""), -1):
                pixels[x] = status
        for left, right, status in spans:
            self._fill(painter, QRectF(left, top, right - left - 1, height), status)
        for x, status, width in _pixel_runs(pixels):
            self._fill(painter, QRectF(x, top, width, height), status)
        return failed

    def _paint_dropped(self, painter: QPainter, rows: list[ItemRow]) -> None:
        assert self.lanes is not None
        top, height = self._lane_top(len(self.lanes.lanes)), max(1.0, self._lane_height() - 1)
        chain = self._blocked_by_current(rows)
        pixels: dict[int, str] = {}
        many: dict[int, int] = {}
        for when, row in self.lanes.dropped:
            x, status = int(self._x(when)), rows[row].status
            many[x] = many.get(x, 0) + 1
            if WEIGHT.get(status, 0) >= WEIGHT.get(pixels.get(x, ""), -1):
                pixels[x] = status
        for x, status, width in _pixel_runs(pixels):
            self._fill(painter, QRectF(x - 1, top, width + 2, height), status)
        if height >= MIN_LABELLED_LANE:  # a failure blocks its consumers at one instant: say how many
            painter.setPen(self.palette().text().color())
            for x, count in _clusters(many):
                if count > 1:
                    painter.drawText(QRectF(x + 4, top - 2, 60, height + 4), Qt.AlignmentFlag.AlignVCenter,
                                     f"×{count}")
        if chain:  # the consumers the current failure blocked: outlined, over the rest
            painter.setPen(QPen(HIGHLIGHT.darker(150), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for when, row in self.lanes.dropped:
                if row in chain:
                    painter.drawRect(QRectF(self._x(when) - 2, top - 1, 5, height + 2))
                    self.rects_drawn += 1

    def _paint_failures(self, painter: QPainter, failed: list[QRectF]) -> None:
        """Failed modules stand out: at least three pixels wide and outlined, drawn last."""
        red = self._colors[ItemStatus.FAILED]
        painter.setPen(QPen(red.darker(160), 1))
        painter.setBrush(red)
        for rect in failed:
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


