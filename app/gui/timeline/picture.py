"""The timeline's cached picture: the finished bars, the axis, the lanes' names and the ticks of the
modules never attempted, kept in a pixmap and brought up to date with the rows that moved since
the last paint.

It is drawn again in full only when the size, the time scale or the lanes change. Level of
detail keeps it cheap at 10,000 modules: at most one rectangle per pixel column and lane, where
several bars share a pixel the one that matters most (a failure first) gives its colour, and
neighbouring narrow bars of one colour become one rectangle. This file also owns the status
colours and the fill that counts the rectangles drawn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPixmap

from app.engine.vocabulary import ItemStatus
from app.gui.run_progress import ItemRow
from app.gui.timeline.geometry import (
    AXIS_HEIGHT,
    AXIS_STEPS,
    GUTTER,
    MARGIN,
    TimelineFrame,
    axis_label,
    axis_ticks,
    lane_name,
    last_tick,
)
from app.gui.timeline.lanes import Bar

# Where several bars share a pixel, the colour of the one that matters most wins.
WEIGHT: dict[str, int] = {ItemStatus.FAILED: 5, ItemStatus.DEPLOYING: 4, ItemStatus.BLOCKED: 3, ItemStatus.CANCELLED: 2}
# The status icons' colours (resources/icons), which stay apart for colour-blind eyes too.
STATUS_COLORS: dict[str, str] = {
    ItemStatus.PENDING: "#9ca3af",
    ItemStatus.DEPLOYING: "#0072b2",
    ItemStatus.DEPLOYED: "#009e73",
    ItemStatus.PREPARED: "#009e73",
    ItemStatus.STAGED: "#56b4e9",
    ItemStatus.FAILED: "#d55e00",
    ItemStatus.BLOCKED: "#a2487e",
    ItemStatus.SKIPPED: "#7c8591",
    ItemStatus.CANCELLED: "#4b5563",
}
LABEL_GAP_PX = 12  # between an axis label and the next tick
NARROW_PX = 4.0  # bars narrower than this merge with their neighbours of the same colour
THIN_LANE_PX = 6.0  # in lanes this thin no gap between bars shows: neighbours merge whatever their width


class StatusFill:
    """Fills rectangles in their statuses' colours and counts them: tests check the level of detail."""

    def __init__(self) -> None:
        self.colors: dict[str, QColor] = {status: QColor(color) for status, color in STATUS_COLORS.items()}
        self.count = 0  # rectangles since the count was last reset, outlines included

    def __call__(self, painter: QPainter, rect: QRectF, status: str) -> None:
        painter.fillRect(rect, self.colors.get(status, self.colors[ItemStatus.PENDING]))
        self.count += 1


class FinishedPicture:
    """The cached layer of a RunTimeline, drawn at the widget's device pixel ratio."""

    def __init__(self, fill: StatusFill) -> None:
        self._fill = fill
        self._pixmap: QPixmap | None = None
        self._key: tuple[object, ...] = ()
        self.full_draws = 0  # how often it was drawn again in full

    def clear(self) -> None:
        self._pixmap = None

    def layer(self, frame: TimelineFrame, palette: QPalette, ratio: float) -> QPixmap:
        """Drawn in full when the geometry changed, else brought up to date with the rows that moved."""
        lanes = frame.lanes
        frontends = tuple(lanes.frontends())
        key = (frame.width, frame.height, frame.span, frame.lane_height, bool(lanes.dropped), frontends, id(lanes))
        rows = lanes.progress.rows
        if self._pixmap is None or key != self._key:
            self._pixmap = QPixmap(int(frame.width * ratio), int(frame.height * ratio))
            self._pixmap.setDevicePixelRatio(ratio)
            self._pixmap.fill(palette.base().color())
            self._key = key
            lanes.take_dirty()
            self.full_draws += 1
            painter = QPainter(self._pixmap)
            self._paint_axis(painter, frame, palette)
            self._paint_lane_names(painter, frame, palette)
            for lane, bars in enumerate(lanes.lanes):
                self._paint_lane(painter, frame, lane, bars, rows)
            if lanes.dropped:
                self._paint_dropped(painter, frame, lanes.dropped, rows)
            painter.end()
            return self._pixmap
        dirty = lanes.take_dirty()
        if dirty:
            painter = QPainter(self._pixmap)
            dropped = []
            for row in dirty:
                bar = lanes.bar_of.get(row)
                if bar is not None and bar.end is not None:
                    self._fill(
                        painter, frame.bar_rect(bar, lanes.lane_of[row], 0.0).adjusted(0, 0, -1, 0), rows[row].status
                    )
                elif bar is None:
                    dropped.append(row)
            if dropped:
                at = lanes.dropped_at
                self._paint_dropped(painter, frame, [(at[n], n) for n in dropped if n in at], rows)
            painter.end()
        return self._pixmap

    def _paint_axis(self, painter: QPainter, frame: TimelineFrame, palette: QPalette) -> None:
        metrics = painter.fontMetrics()
        baseline = AXIS_HEIGHT - 5 - (metrics.height() - metrics.ascent()) // 2
        for seconds, label in axis_ticks(frame.span, axis_step(frame, metrics)):
            x = int(frame.x(seconds))
            painter.setPen(palette.mid().color())
            painter.drawLine(x, AXIS_HEIGHT - 4, x, frame.height - MARGIN)
            if x + 2 + metrics.horizontalAdvance(label) <= frame.width:  # a label cut at the edge would misread
                painter.setPen(palette.text().color())
                painter.drawText(x + 2, baseline, label)

    def _paint_lane_names(self, painter: QPainter, frame: TimelineFrame, palette: QPalette) -> None:
        """Each lane's name in the gutter: "not attempted", "worker N", then a rolling run's front-ends.

        Lanes thinner than a line of text are named every few lanes, the first of each group.
        """
        metrics = painter.fontMetrics()
        painter.setPen(palette.text().color())
        for name, top in lane_names(frame, metrics.height()):
            text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, GUTTER - 6)
            box = QRectF(MARGIN, top, GUTTER - 4, max(frame.lane_height, float(metrics.height())))
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, text)

    def _paint_lane(
        self, painter: QPainter, frame: TimelineFrame, lane: int, bars: list[Bar], rows: list[ItemRow]
    ) -> None:
        """Neighbouring narrow bars of one colour become one rectangle: 10,000 bars, a few hundred.

        A bar narrower than a few pixels (or any bar in lanes too thin to show a gap) that starts
        where the last one ended joins it; within a pixel the more important status keeps the
        colour. Bars still deploying are left to the live layer.
        """
        top, height = frame.lane_top(lane), frame.bar_height
        scale, origin = frame.scale, frame.x(0.0)
        thin = height < THIN_LANE_PX
        run_left = run_right = -1.0
        run_status = ""
        for bar in bars:
            if bar.end is None:
                continue
            status = rows[bar.row].status
            left = origin + bar.start * scale
            right = origin + bar.end * scale
            joins = (thin or right - left < NARROW_PX) and left <= run_right + 1
            if joins and (status == run_status or WEIGHT.get(status, 0) <= WEIGHT.get(run_status, 0)):
                run_right = max(run_right, right)
                continue
            if run_status:
                self._fill(painter, QRectF(run_left, top, max(1.0, run_right - run_left - 1), height), run_status)
            run_left, run_right, run_status = left, right, status
        if run_status:
            self._fill(painter, QRectF(run_left, top, max(1.0, run_right - run_left - 1), height), run_status)

    def _paint_dropped(
        self, painter: QPainter, frame: TimelineFrame, dropped: Sequence[tuple[float, int]], rows: list[ItemRow]
    ) -> None:
        """Ticks of the modules never attempted, one per pixel (the most important status wins)."""
        top, height = frame.dropped_top, frame.bar_height
        pixels: dict[int, str] = {}
        for when, row in dropped:
            x, status = int(frame.x(when)), rows[row].status
            if WEIGHT.get(status, 0) >= WEIGHT.get(pixels.get(x, ""), -1):
                pixels[x] = status
        for x, status, width in _pixel_runs(pixels):
            self._fill(painter, QRectF(x - 1, top, width + 2, height), status)


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


def lane_names(frame: TimelineFrame, text_height: int) -> list[tuple[str, float]]:
    """(name, top) of the lanes named in the gutter: every lane, or when the workers' lanes are thinner
    than a line of text, the first of every few of them (a front-end's lane always keeps its name)."""
    lanes = frame.lanes
    names = [("not attempted", frame.dropped_top)] if lanes.dropped else []
    names += [(lane_name(n), frame.lane_top(n)) for n in range(len(lanes.lanes))]
    every = max(1, math.ceil(text_height / frame.lane_height))
    return names[::every] + [(name, frame.frontend_top(n)) for n, name in enumerate(lanes.frontends())]


def axis_step(frame: TimelineFrame, metrics: QFontMetrics) -> float:
    """The smallest tick step whose labels (the widest is the last) fit between their ticks."""
    for step in AXIS_STEPS:
        if step * frame.scale < LABEL_GAP_PX:
            continue  # too close for any label: no need to measure one
        widest = axis_label(last_tick(frame.span, step), step)
        if step * frame.scale >= metrics.horizontalAdvance(widest) + LABEL_GAP_PX:
            return float(step)
    return float(AXIS_STEPS[-1]) * (int(frame.span // AXIS_STEPS[-1]) + 1)
