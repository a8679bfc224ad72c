"""Deployment Details: the log and its search, the failures filter, and exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.engine import operations
from app.engine.events import ItemFinished, ItemSnapshot, ItemStarted, RunFinished, RunStarted
from app.gui.formatting import utcnow
from app.gui.main_window import MainWindow
from tests.gui.conftest import RUN_TIMEOUT_MS, first_frontend, wait_refreshed

FAILING = "Identity"  # consumed by Customers, Orders, Employees and more: they are blocked, first_frontend


def open_newest_run(qtbot: QtBot, window: MainWindow) -> None:
    window.open_run(window.upgrades.report.rows[0].id)
    qtbot.waitUntil(lambda: window.details.progress is not None, timeout=RUN_TIMEOUT_MS)


def test_a_finished_run_shows_its_items_log_and_figures(qtbot: QtBot, window: MainWindow) -> None:
    open_newest_run(qtbot, window)
    pane = window.details
    assert pane.header.title.text() == "Run 2 · upgrade · 24 prepared, 6 did not compile"
    assert pane.header.bar.format() == "30 / 30 done"
    assert "CarrierGateway: failed: " in pane.log.view.toPlainText()
    assert not pane.run_actions.cancel_action.isEnabled()
    again = pane.run_actions.again_action
    assert not again.isEnabled() and "deployment runs" in again.toolTip()


def test_failures_only_and_text_filter(qtbot: QtBot, window: MainWindow) -> None:
    open_newest_run(qtbot, window)
    pane = window.details
    pane.problems_only.setChecked(True)
    assert pane.proxy.rowCount() == 6
    QTest.keyClicks(pane.filter_edit, "soap")
    assert 0 < pane.proxy.rowCount() < 6


def test_log_search_finds_and_wraps(qtbot: QtBot, window: MainWindow) -> None:
    open_newest_run(qtbot, window)
    pane = window.details
    assert pane.log.find_text("Payroll")
    assert pane.log.view.textCursor().selectedText() == "Payroll"
    assert pane.log.find_text("Payroll")  # wraps around to the same, only, match
    assert not pane.log.find_text("no such text")


def test_export_json_and_csv(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    open_newest_run(qtbot, window)
    for name in ("run.json", "run.csv"):
        with qtbot.waitSignal(
            window.session.jobs.finished, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda result: result.name == "export"
        ):
            window.details.run_actions.export(tmp_path / name)
    document = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert document["run"]["id"] == 2 and len(document["run"]["items"]) == 30
    with (tmp_path / "run.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30 and {r["status"] for r in rows} == {"prepared", "failed"}
    assert window.session.notifier.messages[-1].text.startswith("Run 2 exported to")


def open_failed_deploy_run(qtbot: QtBot, window: MainWindow) -> Path:
    """A Deploy All in which Identity failed (a stray file in its folder); returns the stray file."""
    frontend = first_frontend(window.session)
    stray = frontend / FAILING / "notes.txt"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("not Deploy Center's", encoding="utf-8")
    operations.deploy_all(window.session.ctx)
    wait_refreshed(qtbot, window.session)
    open_newest_run(qtbot, window)
    return stray


def select_module(window: MainWindow, name: str) -> None:
    pane = window.details
    number = next(n for n, row in enumerate(pane.model.rows) if row.module == name)
    pane.table.setCurrentIndex(pane.proxy.mapFromSource(pane.model.index(number, 0)))


def test_the_selected_items_whole_message_and_what_to_do_show_below_the_table(qtbot: QtBot, window: MainWindow) -> None:
    open_failed_deploy_run(qtbot, window)
    pane = window.details
    select_module(window, FAILING)
    shown = pane.item.detail.text()
    row = next(r for r in pane.model.rows if r.module == FAILING)
    assert row.message is not None and row.message in shown
    assert pane.item.detail.wordWrap() and "Deploy again" in shown
    select_module(window, "Customers")
    assert f"producer {FAILING} failed" in pane.item.detail.text()


def test_failures_only_shows_failed_modules_before_blocked_ones(qtbot: QtBot, window: MainWindow) -> None:
    open_failed_deploy_run(qtbot, window)
    pane = window.details
    pane.problems_only.setChecked(True)
    status = pane.model.column_index("Status")
    shown = [pane.proxy.index(n, status).data() for n in range(pane.proxy.rowCount())]
    assert shown[0] == "Failed" and set(shown[1:]) == {"Blocked"} and len(shown) > 2


def test_failures_only_is_unticked_for_the_next_run(qtbot: QtBot, window: MainWindow) -> None:
    open_failed_deploy_run(qtbot, window)
    window.details.problems_only.setChecked(True)
    window.open_run(window.upgrades.report.rows[1].id)
    qtbot.waitUntil(lambda: window.details.progress is not None and window.details.progress.kind == "upgrade")
    assert not window.details.problems_only.isChecked() and window.details.proxy.rowCount() == 30


def test_blocked_and_cancelled_rows_have_no_duration(qtbot: QtBot, window: MainWindow) -> None:
    items = tuple(ItemSnapshot(name, "App", 1, "pending") for name in ("P", "C", "Later"))
    window.session.tracker.apply_events(
        [
            RunStarted(90, "deploy-all", "ci", utcnow(), items),
            ItemStarted(90, "P", utcnow()),
            ItemFinished(90, "P", "failed", "disk full", "disk full", 0.25),
            ItemFinished(90, "C", "blocked", "producer P failed", None, 0.0),  # as the engine reports it
            ItemFinished(90, "Later", "cancelled", None, None, 0.0),
            RunFinished(90, "failed"),
        ]
    )
    pane = window.details
    column = pane.model.column_index("Duration")
    took = {row.module: pane.model.index(n, column).data() for n, row in enumerate(pane.model.rows)}
    assert took == {"P": "0.2 s", "C": "", "Later": ""}


def test_deploy_again_is_off_once_every_module_it_would_deploy_is_deployed(qtbot: QtBot, window: MainWindow) -> None:
    stray = open_failed_deploy_run(qtbot, window)
    first = window.details.progress
    assert first is not None and window.details.run_actions.again_action.isEnabled()
    stray.unlink()
    operations.deploy_all(window.session.ctx)  # e.g. from a CI job
    wait_refreshed(qtbot, window.session)
    window.open_run(first.run_id)
    qtbot.waitUntil(lambda: not window.details.run_actions.again_action.isEnabled())
    assert "leaves every module this run did not deploy as it is" in window.details.run_actions.again_action.toolTip()


def test_the_export_dialog_starts_in_the_last_export_folder_not_the_current_one(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    open_newest_run(qtbot, window)
    start = window.details.run_actions.export_start(".csv")
    assert start.parent != Path.cwd() and start.name == "run-2.csv"
    exports = tmp_path / "exports"
    exports.mkdir()
    window.details.run_actions.export(exports / "run.json")
    # The export's own job, not whichever job of the window (a refresh, say) happens to end first.
    qtbot.waitUntil((exports / "run.json").is_file, timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: window.details.run_actions.export_start(".json") == exports / "run-2.json", timeout=RUN_TIMEOUT_MS
    )


def test_a_live_run_shows_what_deploys_now_and_the_log_ends_at_its_end(qtbot: QtBot, window: MainWindow) -> None:
    items = tuple(ItemSnapshot(f"X{n:03d}", "Bench", 1, "pending") for n in range(300))
    tracker = window.session.tracker
    tracker.apply_events([RunStarted(90, "deploy-all", "ci", utcnow(), items)])
    tracker.apply_events(
        [ItemStarted(90, "X000", utcnow()), ItemStarted(90, "X001", utcnow())]
        + [ItemFinished(90, f"X{n:03d}", "deployed", None, None, 0.1) for n in range(2, 300)]
    )
    pane = window.details
    qtbot.waitUntil(lambda: "X000" in pane.now_deploying.text())
    assert "X001" in pane.now_deploying.text()
    scroll = pane.log.view.verticalScrollBar()
    scroll.setValue(0)  # the operator reads back through the log
    tracker.apply_events(
        [
            ItemFinished(90, "X000", "deployed", None, None, 0.1),
            ItemFinished(90, "X001", "deployed", None, None, 0.1),
            RunFinished(90, "succeeded"),
        ]
    )
    assert scroll.value() == scroll.maximum() > 0
    assert pane.now_deploying.text() == "" and not pane.now_deploying.isVisibleTo(pane)
