"""Deployment Details: the log and its search, the failures filter, and exports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from tests.gui.conftest import RUN_TIMEOUT_MS


def open_upgrade_run(qtbot: QtBot, window: MainWindow) -> None:
    window.open_run(window.upgrades.report.rows[0].id)
    qtbot.waitUntil(lambda: window.details.progress is not None, timeout=RUN_TIMEOUT_MS)


def test_a_finished_run_shows_its_items_log_and_figures(qtbot: QtBot, window: MainWindow) -> None:
    open_upgrade_run(qtbot, window)
    pane = window.details
    assert pane.title.text() == "Run 2 · upgrade · failed"
    assert pane.bar.format() == "30 / 30 done"
    assert "CarrierGateway: failed: " in pane.log.toPlainText()
    assert not pane.cancel_action.isEnabled()
    assert not pane.again_action.isEnabled() and "deployment runs" in pane.again_action.toolTip()


def test_failures_only_and_text_filter(qtbot: QtBot, window: MainWindow) -> None:
    open_upgrade_run(qtbot, window)
    pane = window.details
    pane.problems_only.setChecked(True)
    assert pane.proxy.rowCount() == 6
    qtbot.keyClicks(pane.filter_edit, "soap")
    assert 0 < pane.proxy.rowCount() < 6


def test_log_search_finds_and_wraps(qtbot: QtBot, window: MainWindow) -> None:
    open_upgrade_run(qtbot, window)
    pane = window.details
    assert pane.find_in_log("Payroll")
    assert pane.log.textCursor().selectedText() == "Payroll"
    assert pane.find_in_log("Payroll")  # wraps around to the same, only, match
    assert not pane.find_in_log("no such text")


def test_export_json_and_csv(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    open_upgrade_run(qtbot, window)
    for name in ("run.json", "run.csv"):
        with qtbot.waitSignal(window.session.jobs.finished, timeout=RUN_TIMEOUT_MS,
                              check_params_cb=lambda result: result.name == "export"):
            window.details.export(tmp_path / name)
    document = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert document["run"]["id"] == 2 and len(document["run"]["items"]) == 30
    with (tmp_path / "run.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30 and {r["status"] for r in rows} == {"prepared", "failed"}
    assert window.session.notifier.messages[-1].text.startswith("Run 2 exported to")
