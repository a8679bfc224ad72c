"""Rule 4 in the window: actions on modules an active run holds are disabled, refusals are shown."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from app.engine.context import EnvironmentContext
from app.engine.events import ItemFinished, ItemSnapshot, ItemStarted, RunFinished, RunStarted
from app.gui import watcher
from app.gui.formatting import utcnow
from app.gui.jobs import JobResult
from app.gui.main_window import MainWindow
from app.gui.notifier import ERROR
from app.gui.watcher import POLL_JOB, PollRequest, PollResult, poll
from tests.gui.conftest import RUN_TIMEOUT_MS, Answers, Gates, module_entry, wait_operation

IN_THE_RUN = "Orders"
OUTSIDE_THE_RUN = "Recruiting"  # failed to compile for 11.19.0: Deploy All skips it, module_entry


def module_actions(window: MainWindow) -> dict[str, bool]:
    pane = window.modules
    return {
        "publish": pane.publish_action.isEnabled(),
        "apply": pane.apply_action.isEnabled(),
        "delete": pane.delete_action.isEnabled(),
    }


def start_held_run(qtbot: QtBot, window: MainWindow, gate: Gates) -> None:
    gate("Common")
    with qtbot.waitSignal(window.session.tracker.started, timeout=RUN_TIMEOUT_MS):
        window.upgrades.deploy_button.click()


def test_actions_are_disabled_for_modules_in_the_run_only(qtbot: QtBot, window: MainWindow, gate: Gates) -> None:
    start_held_run(qtbot, window, gate)
    window.show_pane(1)

    window.modules.select(IN_THE_RUN)
    assert module_actions(window) == {"publish": False, "apply": False, "delete": False}
    assert "held by run" in window.modules.apply_action.toolTip()
    entry = window.modules.model.entry(IN_THE_RUN)
    assert entry is not None and entry.label == "Waiting in run 3"
    assert "Orders is held by run 3" in window.modules.why_label.text(), "said on screen, not only on hover"

    window.modules.select(OUTSIDE_THE_RUN)
    assert module_actions(window) == {"publish": True, "apply": True, "delete": True}
    assert not window.upgrades.deploy_action.isEnabled()
    assert "is in progress" in window.upgrades.deploy_action.toolTip()


def test_a_refused_action_shows_the_engine_message_in_the_modules_pane(
    qtbot: QtBot, window: MainWindow, gate: Gates
) -> None:
    start_held_run(qtbot, window, gate)
    window.show_pane(1)

    # As if the click came just before the window learnt about the run: the engine decides.
    result = wait_operation(qtbot, window.session, lambda: window.modules.apply_config(IN_THE_RUN, {"MaxRows": "5"}))

    assert not result.result.ok
    message = window.session.notifier.messages[-1]
    assert (message.level, message.pane) == (ERROR, "modules")
    assert message.text.startswith(f"Apply configurations of module {IN_THE_RUN} refused")
    assert window.modules.message_bar.isVisible()
    assert "refused: it is being deployed by run" in window.modules.message_bar.text


def test_actions_come_back_when_the_run_ends(qtbot: QtBot, window: MainWindow, gate: Gates) -> None:
    start_held_run(qtbot, window, gate)
    window.modules.select(IN_THE_RUN)
    assert not window.modules.apply_action.isEnabled()

    wait_operation(qtbot, window.session, gate.release_all)

    window.modules.select(IN_THE_RUN)
    assert module_actions(window) == {"publish": True, "apply": True, "delete": True}


def test_a_poll_read_before_the_run_ended_does_not_lock_its_modules_again(
    qtbot: QtBot, window: MainWindow, gate: Gates
) -> None:
    start_held_run(qtbot, window, gate)
    # What a poll on the job thread read while the run was active, delivered after it ended.
    stale = poll(window.session.ctx, PollRequest(frozenset(), False, {}, None))
    assert stale.locks and set(stale.locks.values()) == {3}

    wait_operation(qtbot, window.session, gate.release_all)
    window.session.watcher.apply(JobResult(POLL_JOB, stale))

    window.modules.select(IN_THE_RUN)
    assert module_actions(window) == {"publish": True, "apply": True, "delete": True}
    entry = window.modules.model.entry(IN_THE_RUN)
    assert entry is not None and entry.locked_by_run is None


def test_closing_during_a_run_asks_then_cancels_and_joins_it(
    qtbot: QtBot, window: MainWindow, gate: Gates, answers: Answers
) -> None:
    start_held_run(qtbot, window, gate)
    answers.before_answer = lambda question: gate.release_all()

    assert window.close()

    assert "Stop it and close?" in answers.questions[-1].text
    assert not window.session.jobs.running()
    assert not window.isVisible()


def test_closing_during_a_run_can_be_declined(qtbot: QtBot, window: MainWindow, gate: Gates, answers: Answers) -> None:
    start_held_run(qtbot, window, gate)
    answers.answer = False

    assert not window.close()

    assert window.isVisible() and window.session.controller.runs_in_progress()


def test_ctrl_c_or_sigterm_closes_without_asking_and_joins_the_run(
    qtbot: QtBot, window: MainWindow, gate: Gates, answers: Answers
) -> None:
    start_held_run(qtbot, window, gate)
    gate.release_all()  # the module in progress may finish; the run is cancelled either way

    window.close_without_asking()

    assert not answers.questions[1:]  # only the Deploy All plan was asked
    assert not window.session.jobs.running() and not window.isVisible()


def test_the_state_column_says_where_each_held_module_is_in_its_run(qtbot: QtBot, window: MainWindow) -> None:
    items = tuple(ItemSnapshot(name, "Core", 1, "pending") for name in ("Common", "Orders"))
    tracker, model = window.session.tracker, window.modules.model

    def labels() -> dict[str, str]:
        return {name: module_entry(model, name).label for name in ("Common", "Orders")}

    tracker.apply_events([RunStarted(90, "deploy-all", "ci", utcnow(), items), ItemStarted(90, "Common", utcnow())])
    qtbot.waitUntil(lambda: labels() == {"Common": "Deploying in run 90", "Orders": "Waiting in run 90"})
    tracker.apply_events([ItemFinished(90, "Common", "deployed", None, None, 0.2)])
    qtbot.waitUntil(lambda: labels()["Common"] == "Deployed · held by run 90")  # done, and still held (rules.md#locks)
    tracker.apply_events([ItemFinished(90, "Orders", "cancelled", None, None, 0.0), RunFinished(90, "cancelled")])
    assert labels() == {"Common": "Deployed", "Orders": "Ready to deploy"}


@pytest.fixture
def late_first_poll(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watcher's first poll returns half a second late, as on a busy machine."""
    real, calls = watcher.poll, [0]

    def late(ctx: EnvironmentContext, request: PollRequest) -> PollResult:
        calls[0] += 1
        if calls[0] == 1:
            time.sleep(0.5)  # on the job thread, as a slow read would
        return real(ctx, request)

    monkeypatch.setattr(watcher, "poll", late)


def test_the_window_is_handed_over_after_its_first_poll(
    qtbot: QtBot, late_first_poll: None, window: MainWindow
) -> None:
    # Tests feed the tracker runs the database does not hold; the first poll must not land after
    # them and clear their locks.
    items = (ItemSnapshot("Orders", "Core", 1, "pending"),)
    window.session.tracker.apply_events([RunStarted(91, "deploy-all", "ci", utcnow(), items)])
    polls: list[object] = []
    window.session.watcher.activity.connect(polls.append)  # after each poll
    qtbot.waitUntil(lambda: len(polls) >= 2, timeout=RUN_TIMEOUT_MS)
    assert module_entry(window.modules.model, "Orders").label == "Waiting in run 91"


def test_a_shortcut_of_a_refused_action_says_why_in_the_pane(qtbot: QtBot, window: MainWindow, gate: Gates) -> None:
    start_held_run(qtbot, window, gate)
    window.show_pane(1)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.modules.select(IN_THE_RUN)
    window.modules.table.setFocus()

    QTest.keyClick(window.modules.table, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)

    message = window.session.notifier.messages[-1]
    assert (message.level, message.pane) == (ERROR, "modules")
    assert message.text.startswith(
        f"Apply configurations refused: {IN_THE_RUN} is held by run 3 (deploy-all) started by "
    )
    assert message.text.endswith(", which is in progress")
    assert window.modules.message_bar.text == message.text


def test_the_deploy_shortcut_says_why_it_is_refused(qtbot: QtBot, window: MainWindow, gate: Gates) -> None:
    start_held_run(qtbot, window, gate)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.show_pane(0)
    window.upgrades.table.setFocus()

    QTest.keyClick(window.upgrades.table, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)

    assert window.upgrades.message_bar.text.startswith("Deploy refused: Run 3 (deploy-all) started by ")
    assert window.upgrades.message_bar.text.endswith("is in progress")
