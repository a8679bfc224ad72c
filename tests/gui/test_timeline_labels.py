"""The timeline's words: axis labels that never repeat and never run into each other, counts of
given-up modules that never overlap, and lanes named after their worker or front-end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtGui import QColor, QFontMetrics
from pytestqt.qtbot import QtBot

from app.engine.events import (
    FrontendPhase,
    FrontendSwitched,
    ItemFinished,
    ItemSnapshot,
    ItemStarted,
    RolloutPhase,
    RunStarted,
)
from app.gui.run_progress import ItemRow, RunProgress
from app.gui.timeline.geometry import GUTTER, MARGIN, TimelineFrame, axis_ticks
from app.gui.timeline.lanes import RunLanes
from app.gui.timeline.picture import LABEL_GAP_PX, axis_step, lane_names
from app.gui.timeline.widget import RunTimeline, _labels

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def finished(names: list[str], seconds: float) -> RunProgress:
    rows = []
    for n, name in enumerate(names):
        row = ItemRow(ItemSnapshot(name, "App", 1, "pending"), "deployed")
        row.started_at = START + timedelta(seconds=seconds * n / len(names))
        row.seconds = seconds / len(names)
        row.finished_at = row.started_at + timedelta(seconds=row.seconds)
        rows.append(row)
    progress = RunProgress(5, "deploy-all", "me", START, rows, own=False, status="succeeded")
    progress.finished_at = START + timedelta(seconds=seconds)
    return progress


def test_axis_labels_never_repeat_and_leave_room_between_them(qtbot: QtBot) -> None:
    widget = RunTimeline()
    qtbot.addWidget(widget)
    metrics = QFontMetrics(widget.font())
    lanes = RunLanes(finished(["A"], 1.0))
    for span in (0.013, 0.05, 0.27, 0.4, 0.9, 2.5, 12.0, 59.0, 75.0, 600.0, 3599.0, 4000.0, 90_000.0):
        for width in (200, 420, 800, 1600, 4000):
            frame = TimelineFrame.measure(lanes, width, 160, span)
            step = axis_step(frame, metrics)
            ticks = axis_ticks(span, step)
            labels = [label for _seconds, label in ticks]
            assert len(set(labels)) == len(labels), (span, width, labels)
            assert len(ticks) >= 2 or step * frame.scale > width - 2 * MARGIN - GUTTER
            widest = max(metrics.horizontalAdvance(label) for label in labels)
            assert step * frame.scale >= widest + LABEL_GAP_PX, (span, width, labels)


def test_counts_of_given_up_modules_never_overlap() -> None:
    width = 30  # every count is 30 pixels wide here
    assert _labels([(100, 6), (110, 22)], lambda _n: width) == [(100, 28)], "one count, not ×6×22"
    assert _labels([(100, 6), (200, 22)], lambda _n: width) == [(100, 6), (200, 22)]
    assert _labels([(100, 1), (300, 1)], lambda _n: width) == [], "a single module gets no count"
    placed = _labels([(x, 3) for x in range(0, 400, 12)], lambda _n: width)
    ends = [x + 4 + width for x, _count in placed]
    assert all(later[0] + 4 >= end for later, end in zip(placed[1:], ends, strict=False))
    assert sum(count for _x, count in placed) == 34 * 3


def test_lanes_are_named_after_their_worker_or_front_end(qtbot: QtBot) -> None:
    names = [f"M{n}" for n in range(4)]
    items = tuple(ItemSnapshot(name, "App", 1, "pending") for name in names)
    progress = RunProgress.from_started(RunStarted(5, "deploy-all", "me", START, items, ("web1", "web2")))
    for name in names[:2]:
        progress.apply_event(ItemStarted(5, name, START))
    for name in names[:2]:
        progress.apply_event(ItemFinished(5, name, "staged", None, None, 1.0))
    progress.apply_event(FrontendPhase(5, "web1", RolloutPhase.SWITCHING, START + timedelta(seconds=2)))
    progress.apply_event(FrontendPhase(5, "web1", RolloutPhase.HEALTH, START + timedelta(seconds=3)))
    progress.apply_event(FrontendSwitched(5, "web1", 2, True, None))
    timeline = RunTimeline()
    qtbot.addWidget(timeline)
    timeline.resize(600, 200)
    timeline.show_run(progress)
    assert timeline.lanes is not None
    frame = TimelineFrame.measure(timeline.lanes, 600, 200, 10.0)

    named = [name for name, _top in lane_names(frame, QFontMetrics(timeline.font()).height())]

    assert named == ["worker 1", "worker 2", "web1", "web2"]
    image = timeline.grab().toImage()
    background = QColor(image.pixel(2, 2)).name()
    gutter = {QColor(image.pixel(x, y)).name() for x in range(MARGIN, GUTTER) for y in range(16, 60)}
    assert gutter - {background}, "the names are drawn in the gutter"
