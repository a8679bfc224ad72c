"""Upgrade to...: preparation runs on the worker thread with its own progress, then the pane says where it stands."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from app.gui.run_progress import RunProgress
from tests.gui.conftest import RUN_TIMEOUT_MS, Answers, wait_operation


def test_upgrade_prepares_every_module_with_its_own_progress(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    pane = window.upgrades
    seen: list[tuple[str, bool]] = []

    def on_started(progress: RunProgress) -> None:  # runs after the pane's own slot
        seen.append((progress.kind, pane.upgrade_progress.isVisibleTo(pane)))

    window.session.tracker.started.connect(on_started)
    result = wait_operation(qtbot, window.session, lambda: pane.start_upgrade("11.19.1"))

    assert result.result.ok and result.result.value.kind == "upgrade"
    assert "Prepare every module for platform 11.19.1?" in answers.questions[-1].text
    assert seen == [("upgrade", True)]
    assert not pane.upgrade_progress.isVisibleTo(pane)
    qtbot.waitUntil(lambda: pane.title.text() == "Upgrading modules from 11.19.0 to 11.19.1", timeout=RUN_TIMEOUT_MS)
    assert window.platform_label.text() == "Platform 11.19.1"
    assert pane.report.rows[0].kind == "upgrade"


def test_upgrade_is_disabled_while_a_run_is_active(window: MainWindow) -> None:
    window.session.controller.upgrade("11.20.0")
    window.upgrades.update_actions()
    assert not window.upgrades.upgrade_action.isEnabled()
    assert window.upgrades.upgrade_action.toolTip() == "A run is starting"  # its first event is not in yet
