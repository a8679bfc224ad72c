"""The window and a farm's hooks: set and test them in the Front-ends pane, see their last output,
follow a rolling run's phases and soak in Deployment Details, choose a failure budget when deploying."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.engine import farm_admin as frontends
from app.engine.events import FrontendPhase, ItemSnapshot, RolloutPhase, RunFinished, RunStarted
from app.engine.frontend.registry import Frontend
from app.engine.read import views
from app.gui.frontends.pane import HooksDialog
from app.gui.main_window import PANES, MainWindow
from app.gui.notifier import ERROR, INFO, WARNING, Question, RunChoices
from app.gui.run_choices import RunChoicesDialog
from tests.farm_http import FarmHealth, farm_health_server
from tests.gui.conftest import RUN_TIMEOUT_MS, Answers, farm_checked, select_frontend, wait_operation

FRONTENDS = PANES.index("frontends")


def test_hooks_are_set_tested_and_their_last_output_shown(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    pane = window.frontends
    window.show_pane(FRONTENDS)
    farm_checked(qtbot, window)
    select_frontend(window, "default")
    assert pane.hooks_action.isEnabled() and not pane.test_action.isEnabled()  # nothing to test yet

    wait_operation(
        qtbot, window.session, lambda: pane.set_hooks("default", frontends.HookSettings(health_url="ftp://x"))
    )
    message = window.session.notifier.messages[-1]
    assert (message.level, message.pane) == (ERROR, "frontends") and "http:// or https://" in message.text

    folder = Path(views.status(window.session.ctx).frontends[0].location)
    health = FarmHealth({"default": folder})
    with farm_health_server(health) as base:
        settings = frontends.HookSettings(drain_cmd="echo out", health_url=f"{base}/{{frontend}}/{{module}}")
        wait_operation(qtbot, window.session, lambda: pane.set_hooks("default", settings))
        farm_checked(qtbot, window)
        select_frontend(window, "default")
        state = pane.model.rows[0]
        assert state.frontend.drain_cmd == "echo out"
        assert pane.model.data(pane.model.index(0, pane.model.column_index("Hooks"))) == "drain"
        assert pane.test_action.isEnabled()

        with qtbot.waitSignal(
            window.session.jobs.finished, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda r: r.name == "test front-end"
        ):
            pane.test_action.trigger()
        tested = [m for m in window.session.notifier.messages if m.pane == "frontends"][-1]
        assert (tested.level, tested.text) == (INFO, "The health checks of default pass")
        assert f"GET {base}/default/" in pane.output.toPlainText() and "answered 200" in pane.output.toPlainText()
        assert sum(health.hits.values()) > 0

        health.bad = {(folder / "Common" / "CURRENT").read_text().strip()}
        farm_checked(qtbot, window)  # the pane reads the farm again after a test
        select_frontend(window, "default")
        with qtbot.waitSignal(
            window.session.jobs.finished, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda r: r.name == "test front-end"
        ):
            pane.test_action.trigger()
        warned = [m for m in window.session.notifier.messages if m.pane == "frontends"][-1]
        assert warned.level == WARNING and "of front-end default answered 500" in warned.text
        farm_checked(qtbot, window)
        pane.table.clearSelection()
        select_frontend(window, "default")
        assert "default: health failed at" in pane.output.toPlainText()  # read back from the record


def test_the_hooks_dialog_sets_what_changed_and_clears_what_was_emptied(qtbot: QtBot) -> None:
    dialog = HooksDialog(
        Frontend(1, "web1", "/srv", drain_cmd="drain web1", undrain_cmd="undrain web1", health_timeout=30)
    )
    qtbot.addWidget(dialog)
    dialog.undrain_edit.setText("")
    dialog.url_edit.setText("https://web1/health")
    dialog.timeout_spin.setValue(0)
    assert dialog.settings() == frontends.HookSettings(
        health_url="https://web1/health", clear=frozenset({"undrain-cmd", "health-timeout"})
    )


def test_the_deploy_question_takes_a_failure_budget(qtbot: QtBot, window: MainWindow, answers: Answers) -> None:
    def choose(question: Question) -> None:
        assert question.choices is not None and not question.choices.can_soak
        question.choices.max_failures = "10%"

    answers.before_answer = choose
    result = wait_operation(qtbot, window.session, window.upgrades.deploy_button.click)

    assert "A failure budget stops the run" in answers.questions[-1].text
    assert result.result.ok and result.operation.run_id is not None
    summary = views.run_detail(window.session.ctx, result.operation.run_id).summary
    assert str(summary.options.max_failures) == "10%" and summary.options.soak is None


def test_the_choices_dialog_refuses_a_budget_that_does_not_read(qtbot: QtBot) -> None:
    choices = RunChoices(can_soak=True)
    dialog = RunChoicesDialog(Question("Deploy All", "Deploy 3 modules?", "Deploy"), choices)
    qtbot.addWidget(dialog)
    dialog.budget_edit.setText("a few")
    dialog.accept()
    assert dialog.problem.isVisibleTo(dialog) and "--max-failures" in dialog.problem.text()
    assert dialog.result() != dialog.DialogCode.Accepted
    dialog.budget_edit.setText("3")
    dialog.soak_spin.setValue(90)
    dialog.accept()
    assert (choices.max_failures, choices.soak) == ("3", 90)
    options = choices.options(rolling=True)
    assert (str(options.max_failures), options.soak, options.rolling) == ("3", 90, True)


def test_details_follow_each_front_end_s_phases_and_the_soak_s_countdown(qtbot: QtBot, window: MainWindow) -> None:
    now = datetime.now(UTC)
    tracker = window.session.tracker
    window.show_pane(2)
    tracker.apply_events(
        [RunStarted(9002, "deploy-all", "tester", now, (ItemSnapshot("Common", "Core", 1, "pending"),))]
    )
    header = window.details.header

    tracker.apply_events(
        [
            FrontendPhase(9002, "web1", RolloutPhase.DRAINED, now),
            FrontendPhase(9002, "web1", RolloutPhase.UNDRAINED, now),
            FrontendPhase(9002, "web2", RolloutPhase.SOAKING, now - timedelta(seconds=20), seconds=60),
        ]
    )

    line = header.waves.text()
    assert "web1 ✓ undrained" in line
    assert "web2 ✓ soaking, 40 s left of 1 min 00 s" in line or "web2 ✓ soaking, 39 s left of 1 min 00 s" in line, line
    assert header.soak_timer.isActive(), "the countdown ticks while the soak runs"
    log = window.details.log.view.toPlainText()
    assert "front-end web1: drained" in log and "front-end web2: soaking" in log

    problem = "during the soak, health URL http://web2/health of front-end web2 answered 500"
    tracker.apply_events(
        [
            FrontendPhase(9002, "web2", RolloutPhase.FAILED, now, problem=problem),
            FrontendPhase(9002, "web2", RolloutPhase.SWITCHED_BACK, now, problem=problem),
            RunFinished(9002, "failed", {"failed": 1}),
        ]
    )
    assert f"web2 ✗ switched back: {problem}" in header.waves.text()
    assert not header.soak_timer.isActive()
