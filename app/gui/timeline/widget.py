"""A picture of one run: a lane per worker, a bar per module across time, coloured by status, and
for a rolling run a lane per front-end with its switch and its health check.

RunTimeline is the widget: it follows a run's lanes (lanes), measures where things go
(geometry), names the module or step under the pointer and emits the module clicked. It paints
in two layers: the cached picture of what has finished (picture), and a live layer painted every
time over it: the bars still deploying, the rolling steps, how many modules were given up at
each instant, the failures and the selection. A failed module is drawn over everything else and
outlined; the current module, when it failed, also lights up the consumers it blocked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QEvent, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QHelpEvent, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from app.engine.events import RolloutPhase
from app.engine.vocabulary import ItemStatus
from app.gui.formatting import count_text, duration, status_label
from app.gui.rollout import PhaseSpan
from app.gui.run_progress import ItemRow, RunProgress, blocked_by
from app.gui.timeline.geometry import LiveSpan, TimelineFrame, lane_count
from app.gui.timeline.lanes import UNATTEMPTED, RunLanes
from app.gui.timeline.picture import STATUS_COLORS, FinishedPicture, StatusFill

TOOLTIP_NAMES = 6
HIGHLIGHT = QColor("#f0e442")
MIN_LABELLED_LANE = 10  # pixels: lower lanes get no counts written in them
COUNT_GAP_PX = 6  # between two counts of given-up modules: closer ones are added into one
# A rolling run's steps, in colours the status colours leave free (and apart for colour-blind eyes).
# A front-end's lane in a rolling run: one colour per phase (the failed ones take the failure colour).
PHASE_COLORS: dict[str, str] = {
    RolloutPhase.DRAINED: "#999999",
    RolloutPhase.SWITCHING: "#0072b2",
    RolloutPhase.HEALTH: "#e69f00",
    RolloutPhase.SOAKING: "#56b4e9",
    RolloutPhase.HEALTHY: "#009e73",
    RolloutPhase.UNDRAINED: "#009e73",
    RolloutPhase.SWITCHED_BACK: "#cc79a7",
}
PHASE_WORDS: dict[str, str] = {
    RolloutPhase.DRAINED: "drained",
    RolloutPhase.SWITCHING: "switched",
    RolloutPhase.HEALTH: "health check",
    RolloutPhase.SOAKING: "soak",
    RolloutPhase.HEALTHY: "healthy",
    RolloutPhase.UNDRAINED: "undrained",
    RolloutPhase.SWITCHED_BACK: "switched back",
    RolloutPhase.FAILED: "failed",
}


class RunTimeline(QWidget):
    """Paints a RunLanes; hovering names a module, clicking one emits its row.

    The cached picture is drawn again in full only when the size, the time scale or the lanes
    change; each paint adds to it the bars that finished since, then paints the live layer.
    """

    row_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Run timeline")
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.lanes: RunLanes | None = None
        self.current: int | None = None  # the row selected in the table
        self._fill = StatusFill()
        self._picture = FinishedPicture(self._fill)
        self._span = LiveSpan()

    @property
    def rects_drawn(self) -> int:
        """Rectangles of the last paint, both layers; tests check the level of detail."""
        return self._fill.count

    @property
    def full_draws(self) -> int:
        """How often the cached picture was drawn again in full."""
        return self._picture.full_draws

    def sizeHint(self) -> QSize:
        return QSize(600, 160)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 60)

    # -- data -----------------------------------------------------------------------------------

    def show_run(self, progress: RunProgress | None) -> None:
        self.lanes = RunLanes(progress) if progress is not None else None
        self.current = None
        self._span.reset()
        self._picture.clear()
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

    def _frame(self) -> TimelineFrame:
        assert self.lanes is not None
        return TimelineFrame.measure(self.lanes, self.width(), self.height(), self._span.seconds(self.lanes))

    def bar_rect(self, row: int) -> QRectF | None:
        """Where a module is drawn (its bar, or its tick in the not-attempted lane)."""
        return self._frame().rect_of(row) if self.lanes is not None else None

    def row_at(self, pos: QPoint) -> int | None:
        """The module under ``pos``; the nearest within a few pixels when bars are thin."""
        return self._frame().row_at(pos) if self.lanes is not None else None

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
        if self.lanes is not None:
            span = self._frame().span_at(pos)
            if span is not None:
                return phase_tip(span)
        row = self.row_at(pos)
        if row is None or self.lanes is None:
            return ""
        item = self.lanes.progress.rows[row]
        if item.status in UNATTEMPTED:
            frame = self._frame()
            lane_rows = frame.dropped_near(frame.seconds_at(pos.x()), frame.slop())
            if len(lane_rows) > 1:
                rows = self.lanes.progress.rows
                names = ", ".join(rows[n].module for n in lane_rows[:TOOLTIP_NAMES])
                more = (
                    f" and {count_text(len(lane_rows) - TOOLTIP_NAMES)} more" if len(lane_rows) > TOOLTIP_NAMES else ""
                )
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
        self._fill.count = 0
        if self.lanes is None or not lane_count(self.lanes):
            painter.fillRect(self.rect(), self.palette().base())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "The run's modules appear here as they deploy")
            painter.end()
            return
        try:
            # One scale and lane height for the whole paint: thousands of bars ask for them.
            frame = self._frame()
            painter.drawPixmap(0, 0, self._picture.layer(frame, self.palette(), self.devicePixelRatioF()))
            rows = self.lanes.progress.rows
            self._paint_running(painter, frame)
            self._paint_phases(painter, frame)
            if self.lanes.dropped:
                self._paint_dropped_notes(painter, frame, rows)
            self._paint_failures(painter, frame)
        finally:
            painter.end()

    def _paint_running(self, painter: QPainter, frame: TimelineFrame) -> None:
        lanes = frame.lanes
        now = lanes.span()
        for row, lane in lanes.running.items():
            self._fill(
                painter, frame.bar_rect(lanes.bar_of[row], lane, now).adjusted(0, 0, -1, 0), ItemStatus.DEPLOYING
            )

    def _paint_phases(self, painter: QPainter, frame: TimelineFrame) -> None:
        """Each front-end's switch and health check in its own lane; a failed one in the failure colour."""
        lanes = frame.lanes
        now = lanes.span()
        for number, name in enumerate(lanes.frontends()):
            for span in lanes.spans_of(name):
                colour = STATUS_COLORS[ItemStatus.FAILED] if span.problem else PHASE_COLORS.get(span.phase, "")
                if colour:
                    painter.fillRect(frame.span_rect(span, number, now).adjusted(0, 0, -1, 0), QColor(colour))
                    self._fill.count += 1

    def _paint_dropped_notes(self, painter: QPainter, frame: TimelineFrame, rows: list[ItemRow]) -> None:
        """How many were given up at each instant, and the consumers the selected failure blocked."""
        lanes = frame.lanes
        top, height = frame.dropped_top, frame.bar_height
        if height >= MIN_LABELLED_LANE:
            many: dict[int, int] = {}
            for when, _row in lanes.dropped:
                x = int(frame.x(when))
                many[x] = many.get(x, 0) + 1
            painter.setPen(self.palette().text().color())
            metrics = painter.fontMetrics()
            for x, count in _labels(_clusters(many), lambda n: metrics.horizontalAdvance(f"×{count_text(n)}")):
                text = f"×{count_text(count)}"
                box = QRectF(x + 4, top - 2, metrics.horizontalAdvance(text) + 2, height + 4)
                painter.drawText(box, Qt.AlignmentFlag.AlignVCenter, text)
        chain = self._blocked_by_current(rows)
        if chain:  # outlined, over the rest
            painter.setPen(QPen(HIGHLIGHT.darker(150), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for when, row in lanes.dropped:
                if row in chain:
                    painter.drawRect(QRectF(frame.x(when) - 2, top - 1, 5, height + 2))
                    self._fill.count += 1

    def _paint_failures(self, painter: QPainter, frame: TimelineFrame) -> None:
        """Failed modules stand out: at least three pixels wide and outlined, drawn last."""
        red = self._fill.colors[ItemStatus.FAILED]
        painter.setPen(QPen(red.darker(160), 1))
        painter.setBrush(red)
        for row in frame.lanes.failed:
            rect = frame.rect_of(row)
            if rect is not None:
                if rect.width() < 3:
                    rect = QRectF(rect.center().x() - 1.5, rect.top(), 3, rect.height())
                painter.drawRect(rect)
                self._fill.count += 1
        chosen = frame.rect_of(self.current) if self.current is not None else None
        if chosen is not None:  # the module selected in the table
            painter.setPen(QPen(HIGHLIGHT.darker(130), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(chosen.adjusted(-1, -1, 1, 1))
            self._fill.count += 1

    def _blocked_by_current(self, rows: list[ItemRow]) -> set[int]:
        if self.current is None or rows[self.current].status != ItemStatus.FAILED:
            return set()
        return set(blocked_by(rows, rows[self.current].module))


def _labels(clusters: Iterable[tuple[int, int]], width: Callable[[int], int]) -> list[tuple[int, int]]:
    """(x, count) of the counts to write: a cluster whose count would run into the one before is
    added to it, so that no two counts overlap and read as one number. Single modules get
    no count of their own, but add to a neighbour's."""
    labels: list[tuple[int, int]] = []
    right = -(1 << 30)  # where the last count written ends
    for x, count in clusters:
        if labels and x + 4 < right + COUNT_GAP_PX:
            first, before = labels[-1]
            labels[-1] = (first, before + count)
            right = first + 4 + width(before + count)
        elif count > 1:
            labels.append((x, count))
            right = x + 4 + width(count)
    return labels


def phase_tip(span: PhaseSpan) -> str:
    """A rolling step under the pointer: which front-end, what, how long, and what failed."""
    what = PHASE_WORDS.get(span.phase, span.phase)
    took = f", {duration((span.end - span.start).total_seconds())}" if span.end is not None else ", going on"
    failed = f"\n{span.problem}" if span.problem else ""
    return f"{span.frontend}: {what}{took}{failed}"


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
