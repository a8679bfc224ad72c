"""A pane's message belongs to the action that raised it and goes when what it says is gone; it
sits on a line the pane keeps for it, so that showing it never moves the rows under the pointer."""

from __future__ import annotations

import socket
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.engine import farm_admin as frontends
from app.gui.main_window import PANES, MainWindow
from app.gui.notifier import ERROR, Message
from tests.gui.conftest import RUN_TIMEOUT_MS, Gates, wait_operation

UPGRADES, MODULES, DETAILS, FRONTENDS = (PANES.index(name) for name in ("upgrades", "modules", "details", "frontends"))


def closed_port() -> int:
    """A port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def add_frontend(qtbot: QtBot, window: MainWindow, name: str, target: str) -> bool:
    session = window.session
    result = wait_operation(
        qtbot,
        session,
        lambda: session.controller.quick(
            "Add front-end", "frontends", lambda: frontends.add_frontend(session.ctx, name, target), "added"
        ),
    )
    return result.result.ok


def start_held_run(qtbot: QtBot, window: MainWindow, gate: Gates) -> int:
    gate("Common")  # every other module consumes Common: the run waits on it
    with qtbot.waitSignal(window.session.tracker.started, timeout=RUN_TIMEOUT_MS) as started:
        window.upgrades.deploy_button.click()
    return int(started.args[0].run_id)


def test_a_refused_add_goes_on_a_later_successful_add_and_on_check_now(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.show_pane(FRONTENDS)
    bar = window.frontends.message_bar
    unreachable = f"ssh://deploy@127.0.0.1:{closed_port()}/srv/www"

    assert not add_frontend(qtbot, window, "web3", unreachable)
    assert bar.isVisible() and "connection refused" in bar.text

    assert add_frontend(qtbot, window, "web2", str(tmp_path / "web2"))
    assert bar.text == "", "a later successful action of the pane: the refusal is history"

    assert not add_frontend(qtbot, window, "web3", unreachable)
    assert bar.isVisible()
    qtbot.waitUntil(window.frontends.check_action.isEnabled, timeout=RUN_TIMEOUT_MS)  # off while a check runs
    with qtbot.waitSignal(
        window.session.jobs.finished, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda result: result.name == "farm"
    ):
        window.frontends.check_action.trigger()
    assert bar.text == ""


def test_a_refusal_because_of_a_run_goes_when_the_run_ends(qtbot: QtBot, window: MainWindow, gate: Gates) -> None:
    run_id = start_held_run(qtbot, window, gate)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.show_pane(UPGRADES)
    window.upgrades.table.setFocus()
    bar = window.upgrades.message_bar
    QTest.keyClick(window.upgrades.table, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert bar.isVisible() and bar.text.startswith(f"Deploy refused: Run {run_id} (deploy-all) started by ")
    window.show_pane(MODULES)
    window.modules.select("Orders")

    # As if the click came just before the window learnt about the run: the engine refuses.
    result = wait_operation(qtbot, window.session, lambda: window.session.controller.delete_module("Orders"))
    assert not result.result.ok
    assert window.modules.message_bar.isVisible()
    assert "refused: it is being deployed by run" in window.modules.message_bar.text

    wait_operation(qtbot, window.session, gate.release_all)

    assert bar.text == "" and window.modules.message_bar.text == ""
    qtbot.waitUntil(lambda: window.modules_model.entry("Orders").label == "Deployed", timeout=RUN_TIMEOUT_MS)  # type: ignore[union-attr]


def test_a_refusal_about_a_run_that_has_ended_meanwhile_stays_out_of_the_pane(
    qtbot: QtBot, window: MainWindow, gate: Gates
) -> None:
    run_id = start_held_run(qtbot, window, gate)
    wait_operation(qtbot, window.session, gate.release_all)
    window.show_pane(MODULES)

    window.session.notifier.error(
        f"Delete of module Orders refused: it is being deployed by run {run_id}", "modules", run_id
    )

    assert window.modules.message_bar.text == ""
    assert "refused" in window.statusBar().currentMessage()


def test_a_refusal_about_a_run_no_poll_sees_goes(qtbot: QtBot, window: MainWindow) -> None:
    """A run of another process that ended before any poll saw it: two polls without it, and it goes."""
    window.show_pane(MODULES)
    window.session.notifier.error("Delete of module Orders refused: it is being deployed by run 99", "modules", 99)
    assert window.modules.message_bar.isVisible()
    polls: list[object] = []
    window.session.watcher.activity.connect(polls.append)  # after each poll
    qtbot.waitUntil(lambda: len(polls) >= 2, timeout=RUN_TIMEOUT_MS)
    assert window.modules.message_bar.text == ""


def test_a_shortcut_refusal_goes_when_the_action_is_allowed_again(
    qtbot: QtBot, window: MainWindow, gate: Gates
) -> None:
    start_held_run(qtbot, window, gate)
    window.show_pane(DETAILS)
    bar = window.upgrades.message_bar
    window.upgrades.deploy_action.setEnabled(False)
    window.upgrades.refusals.shortcuts[0].activated.emit()
    assert bar.text.startswith("Deploy refused")
    window.upgrades.deploy_action.setEnabled(True)
    assert bar.text == ""


def test_a_message_never_moves_the_rows_under_the_pointer(qtbot: QtBot, window: MainWindow) -> None:
    for number, pane in enumerate(window.panes):
        window.show_pane(number)
        table = next(child for child in pane.findChildren(type(window.modules.table)) if child.isVisible())
        qtbot.waitUntil(table.isVisible)
        before = table.viewport().mapTo(window, QPoint(0, 0))
        long = "refused: " + "a long explanation of what went wrong, " * 8
        pane.message_bar.show_message(Message(ERROR, long, PANES[number]))
        qtbot.waitUntil(pane.message_bar.isVisible)
        assert table.viewport().mapTo(window, QPoint(0, 0)) == before, PANES[number]
        assert pane.message_bar.geometry().width() > pane.width() * 0.9, "across the pane, wrapped"
        assert pane.message_bar.height() >= pane.message_bar.label.heightForWidth(pane.message_bar.label.width())
        pane.message_bar.show_message(Message(ERROR, "Deploy refused: a short reason", PANES[number]))
        slot = pane.message_bar.slot.geometry()
        assert pane.message_bar.geometry() == slot, "a one-line message covers nothing but its own line"
        pane.message_bar.hide()
        assert table.viewport().mapTo(window, QPoint(0, 0)) == before
