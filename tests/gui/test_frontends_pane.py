"""The Front-ends pane: the farm at a glance, and adding, disabling and enabling front-ends."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtTest import QAbstractItemModelTester
from pytestqt.qtbot import QtBot

from app.gui.main_window import PANES, MainWindow
from app.gui.notifier import ERROR
from tests.gui.conftest import farm_checked, select_frontend, wait_operation

FRONTENDS = PANES.index("frontends")


def test_the_model_passes_qt_checks(qtbot: QtBot, window: MainWindow) -> None:
    QAbstractItemModelTester(window.frontends.model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    window.show_pane(FRONTENDS)
    farm_checked(qtbot, window)
    assert [s.frontend.name for s in window.frontends.model.rows] == ["default"]


def test_a_front_end_behind_is_shown_and_deploy_all_brings_it_up_to_date(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.show_pane(FRONTENDS)
    pane = window.frontends
    from app.engine import farm_admin as frontends

    def add() -> object:
        return frontends.add_frontend(window.session.ctx, "web2", str(tmp_path / "web2"))

    result = wait_operation(
        qtbot, window.session, lambda: window.session.controller.quick("Add front-end", "frontends", add, "added")
    )
    assert result.result.ok
    farm_checked(qtbot, window)
    states = {s.frontend.name: s for s in pane.model.rows}
    assert states["web2"].reachable and states["web2"].behind == states["default"].live > 0
    assert (
        "1 front-end runs older releases than recorded (web2): Deploy All brings it up to date." in pane.summary.text()
    )

    select_frontend(window, "web2")
    assert pane.disable_action.isEnabled() and not pane.enable_action.isEnabled()
    wait_operation(qtbot, window.session, pane.disable_action.trigger)
    farm_checked(qtbot, window)
    assert "Disabled, left out of runs: web2" in pane.summary.text()
    select_frontend(window, "default")
    wait_operation(qtbot, window.session, pane.disable_action.trigger)
    message = window.session.notifier.messages[-1]
    assert (message.level, message.pane) == (ERROR, "frontends") and "only one enabled" in message.text
    assert pane.message_bar.isVisible(), "the refusal is shown in the pane"
