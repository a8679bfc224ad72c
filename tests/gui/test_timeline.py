"""The run timeline: lanes packed like workers, bars coloured by status, failures standing out,
hover and click, and a level of detail that keeps 10,000 modules to a few hundred rectangles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.engine.events import ItemFinished, ItemSnapshot, ItemStarted, RunStarted
from app.gui.formatting import utcnow
from app.gui.main_window import MainWindow
from app.gui.run_progress import ItemRow, RunProgress, blocked_by, blocking_producer
from app.gui.timeline.lanes import RunLanes, pack_lanes
from app.gui.timeline.picture import STATUS_COLORS
from app.gui.timeline.widget import RunTimeline
from tests.gui.conftest import changed_row
from tests.gui.test_details_pane import FAILING, open_failed_deploy_run, select_module

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def finished_row(
    name: str,
    status: str,
    start: float | None,
    seconds: float | None,
    reason: str | None = None,
    at: float | None = None,
) -> ItemRow:
    row = ItemRow(ItemSnapshot(name, "App", 1, "pending"), status, reason)
    if start is not None:
        row.started_at = START + timedelta(seconds=start)
        row.seconds = seconds
        row.finished_at = row.started_at + timedelta(seconds=seconds or 0)
    elif at is not None:
        row.finished_at = START + timedelta(seconds=at)
    return row


def finished_run(rows: list[ItemRow]) -> RunProgress:
    progress = RunProgress(5, "deploy-all", "me", START, rows, own=False, status="failed")
    progress.finished_at = START + timedelta(seconds=10)
    return progress


def pixel(timeline: RunTimeline, point: QPoint) -> str:
    return QColor(timeline.grab().toImage().pixel(point)).name()


def test_lanes_are_packed_as_a_pool_of_workers_would_be() -> None:
    assert pack_lanes([(0, 2), (1, 3), (2, 4), (3, 5), (9, 10)]) == [0, 1, 0, 1, 0]
    assert pack_lanes([(0, 5), (0, 5), (0, 5)]) == [0, 1, 2]
    assert pack_lanes([]) == []


def test_bars_are_coloured_by_status_and_hover_and_click_name_the_module(qtbot: QtBot) -> None:
    rows = [
        finished_row("A", "deployed", 0, 4),
        finished_row("B", "failed", 1, 5, "disk full"),
        finished_row("C", "blocked", None, None, "producer B failed", at=6),
        finished_row("D", "deployed", 5, 4),
    ]
    timeline = RunTimeline()
    qtbot.addWidget(timeline)
    timeline.resize(400, 120)
    timeline.show_run(finished_run(rows))
    assert timeline.lanes is not None and len(timeline.lanes.lanes) == 2  # D reuses A's lane

    centres = {}
    for n in range(4):
        rect = timeline.bar_rect(n)
        assert rect is not None
        centres[rows[n].module] = rect.center().toPoint()
    assert pixel(timeline, centres["A"]) == pixel(timeline, centres["D"]) == STATUS_COLORS["deployed"]
    assert pixel(timeline, centres["B"]) == STATUS_COLORS["failed"]
    assert pixel(timeline, centres["C"]) == STATUS_COLORS["blocked"]

    assert timeline.tooltip_at(centres["B"]).startswith("B (App): Failed, 5.0 s\ndisk full")
    assert timeline.tooltip_at(QPoint(2, 2)) == ""
    with qtbot.waitSignal(timeline.row_clicked) as clicked:
        QTest.mouseClick(timeline, Qt.MouseButton.LeftButton, pos=centres["D"])
    assert clicked.args == [3]


def test_the_selected_failure_outlines_the_consumers_it_blocked(qtbot: QtBot) -> None:
    rows = [finished_row("B", "failed", 1, 5), finished_row("C", "blocked", None, None, "producer B failed", at=6)]
    timeline = RunTimeline()
    qtbot.addWidget(timeline)
    timeline.resize(400, 120)
    timeline.show_run(finished_run(rows))
    rect = timeline.bar_rect(1)
    assert rect is not None
    around = rect.adjusted(-4, -4, 4, 4).toRect()
    before = timeline.grab().toImage().copy(around)
    timeline.set_current(0)
    assert timeline.grab().toImage().copy(around) != before, "outlined while its failed producer is selected"
    assert blocked_by(rows, "B") == [1] and blocking_producer("producer B failed") == "B"


def test_ten_thousand_modules_are_drawn_with_few_rectangles(qtbot: QtBot) -> None:
    rows = [finished_row(f"M{n}", "failed" if n % 500 == 0 else "deployed", n * 0.001, 0.004) for n in range(10_000)]
    timeline = RunTimeline()
    qtbot.addWidget(timeline)
    timeline.resize(800, 200)
    timeline.show_run(finished_run(rows))
    assert timeline.lanes is not None and len(timeline.lanes.lanes) == 4  # four at a time

    timeline.grab()

    failures = 20
    assert timeline.rects_drawn <= 4 * 800 // 3 + failures, "at most one rectangle per run of pixels and lane"
    assert timeline.rects_drawn >= 4 + failures


def test_a_live_run_keeps_each_module_in_its_lane(qtbot: QtBot) -> None:
    items = tuple(ItemSnapshot(f"M{n}", "App", 1, "pending") for n in range(3))
    progress = RunProgress.from_started(RunStarted(5, "deploy-all", "me", START, items))
    lanes = RunLanes(progress)
    for event in (ItemStarted(5, "M0", START), ItemStarted(5, "M1", START + timedelta(seconds=1))):
        lanes.update([changed_row(progress, event)])
    assert lanes.lane_of == {0: 0, 1: 1}
    lanes.update([changed_row(progress, ItemFinished(5, "M0", "deployed", None, None, 0.5))])
    later = utcnow() + timedelta(seconds=3600)  # after M0 finished (now)
    lanes.update([changed_row(progress, ItemStarted(5, "M2", later))])
    assert lanes.lane_of == {0: 0, 1: 1, 2: 0}, "M2 takes the lane M0 left"


def test_the_details_timeline_and_blocked_view_follow_the_selection(qtbot: QtBot, window: MainWindow) -> None:
    open_failed_deploy_run(qtbot, window)
    pane = window.details
    select_module(window, FAILING)
    failed = next(n for n, row in enumerate(pane.model.rows) if row.module == FAILING)
    assert pane.timeline.current == failed
    consumers = [pane.item.blocked.item(n).text() for n in range(1, pane.item.blocked.count())]
    assert "Customers (Sales)" in consumers and len(consumers) >= 3
    assert pane.views.tabText(2) == f"&Blocked ({len(consumers)})"

    pane.views.setCurrentIndex(0)
    qtbot.waitExposed(pane.timeline)
    common = next(n for n, row in enumerate(pane.model.rows) if row.module == "Common")
    rect = pane.timeline.bar_rect(common)
    assert rect is not None
    QTest.mouseClick(pane.timeline, Qt.MouseButton.LeftButton, pos=rect.center().toPoint())
    assert pane.proxy.mapToSource(pane.table.currentIndex()).row() == common


def test_a_live_run_redraws_in_full_only_when_its_time_scale_or_lanes_change(qtbot: QtBot) -> None:
    names = [f"M{n}" for n in range(200)]
    progress = RunProgress.from_started(
        RunStarted(5, "deploy-all", "me", utcnow(), tuple(ItemSnapshot(n, "App", 1, "pending") for n in names))
    )
    timeline = RunTimeline()
    qtbot.addWidget(timeline)
    timeline.resize(600, 150)
    timeline.show_run(progress)
    timeline.rows_changed([changed_row(progress, ItemStarted(5, "M0", utcnow()))])
    timeline.grab()
    first = timeline.full_draws
    for n, name in enumerate(names[1:], 1):  # one lane, module after module, within the shown scale
        moved = [
            changed_row(progress, ItemFinished(5, names[n - 1], "deployed", None, None, 0.001)),
            changed_row(progress, ItemStarted(5, name, utcnow())),
        ]
        timeline.rows_changed(moved)
        timeline.grab()
    assert timeline.lanes is not None and len(timeline.lanes.lanes) == 1
    assert timeline.full_draws == first, "each paint added the bars that finished, nothing more"
    timeline.resize(500, 150)
    timeline.grab()
    assert timeline.full_draws == first + 1
