"""Deploy All from the window: the plan first, then live statuses, the report, Deploy again, Cancel."""

from __future__ import annotations

import shutil

from pytestqt.qtbot import QtBot

from app.engine.read import views
from app.gui.main_window import MainWindow
from tests.gui.conftest import (
    RUN_TIMEOUT_MS,
    Answers,
    Gates,
    first_frontend,
    wait_operation,
    wait_refreshed,
)

DEMO_READY = 24
DEMO_FAILED_TO_COMPILE = 6


def statuses(window: MainWindow) -> dict[str, str]:
    return {row.module: row.status for row in window.details.model.rows}


def test_deploy_button_shows_the_plan_then_deploys_every_ready_module(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    button = window.upgrades.deploy_button
    assert button.isEnabled()
    assert window.upgrades.counts["ready"].value.text() == str(DEMO_READY)

    result = wait_operation(qtbot, window.session, button.click)

    assert result.result.ok
    assert window.stack.currentIndex() == 2  # Deployment Details follows the run
    assert "will deploy 24 modules" in answers.questions[0].text
    assert "6 modules will be skipped: their compilation failed" in answers.questions[0].text
    shown = statuses(window)
    assert list(shown.values()).count("deployed") == DEMO_READY
    assert list(shown.values()).count("skipped") == DEMO_FAILED_TO_COMPILE
    assert window.details.progress is not None and window.details.progress.status == "succeeded"
    assert "24 / 24 done" in window.details.header.bar.format()
    qtbot.waitUntil(lambda: window.upgrades.report.rows[0].status == "succeeded", timeout=RUN_TIMEOUT_MS)
    row = window.upgrades.report.rows[0]
    assert (row.status, row.counts["deployed"], row.counts["skipped"]) == ("succeeded", 24, 6)
    qtbot.waitUntil(lambda: window.upgrades.counts["ready"].value.text() == "0", timeout=RUN_TIMEOUT_MS)
    assert not button.isEnabled()
    assert "Nothing to deploy" in window.upgrades.deploy_action.toolTip()


def test_declining_the_plan_starts_nothing(qtbot: QtBot, window: MainWindow, answers: Answers) -> None:
    answers.answer = False
    window.upgrades.deploy_button.click()
    qtbot.waitUntil(lambda: bool(answers.questions))
    assert not window.session.controller.operations
    assert window.upgrades.deploy_button.isEnabled() and window.stack.currentIndex() == 0


def test_deploy_again_deploys_only_what_failed(qtbot: QtBot, window: MainWindow) -> None:
    frontend = first_frontend(window.session)
    stray = frontend / "Identity" / "notes.txt"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("not Deploy Center's", encoding="utf-8")

    wait_operation(qtbot, window.session, window.upgrades.deploy_button.click)

    first = statuses(window)
    not_deployed = {name for name, status in first.items() if status in ("failed", "blocked")}
    assert first["Identity"] == "failed" and first["Customers"] == "blocked"
    assert window.details.progress is not None and window.details.progress.status == "failed"
    assert window.details.run_actions.again_action.isEnabled()
    shutil.rmtree(stray.parent)

    wait_operation(qtbot, window.session, window.details.run_actions.again_action.trigger)

    second = statuses(window)
    attempted = {name for name, status in second.items() if status != "skipped"}
    assert attempted == not_deployed
    assert set(second[name] for name in attempted) == {"deployed"}
    assert not window.details.run_actions.again_action.isEnabled()


def test_cancel_stops_the_run(qtbot: QtBot, window: MainWindow, gate: Gates) -> None:
    common = gate("Common")  # every other module consumes Common: the run waits on it
    with qtbot.waitSignal(window.session.tracker.started, timeout=RUN_TIMEOUT_MS):
        window.upgrades.deploy_button.click()
    assert window.details.run_actions.cancel_action.isEnabled()
    # Cancelling lets the modules already deploying finish: Common must have begun, not merely be next.
    qtbot.waitUntil(lambda: statuses(window).get("Common") == "deploying", timeout=RUN_TIMEOUT_MS)

    def cancel_then_let_common_finish() -> None:
        window.details.run_actions.cancel_action.trigger()
        common.release()

    result = wait_operation(qtbot, window.session, cancel_then_let_common_finish)

    assert result.result.value.status == "cancelled"
    shown = statuses(window)
    assert shown["Common"] == "deployed"
    assert {shown[name] for name in shown if name != "Common"} == {"cancelled", "skipped"}
    assert not window.details.run_actions.cancel_action.isEnabled()
    assert window.details.run_actions.again_action.isEnabled()
    bar = window.details.header.bar
    assert (bar.value(), bar.maximum()) == (1, DEMO_READY), "only Common was deployed"
    assert bar.format() == f"1 / {DEMO_READY} done, {DEMO_READY - 1} cancelled"
    assert window.details.message_bar.text == "", "the cancelling notice ends with its run"
    wait_refreshed(qtbot, window.session)
    assert views.status(window.session.ctx).active_run is None


def test_a_stop_question_about_a_run_that_ended_meanwhile_is_withdrawn(
    qtbot: QtBot, window: MainWindow, gate: Gates, answers: Answers
) -> None:
    gate("Common")
    with qtbot.waitSignal(window.session.tracker.started, timeout=RUN_TIMEOUT_MS):
        window.upgrades.deploy_button.click()

    def run_ends_while_asking(_question: object) -> None:
        with qtbot.waitSignal(window.session.controller.finished, timeout=RUN_TIMEOUT_MS):
            gate.release_all()

    answers.before_answer = run_ends_while_asking
    window.details.run_actions.cancel_action.trigger()  # the operator confirms after the run ended on its own

    texts = [m.text for m in window.session.notifier.messages]
    assert not [t for t in texts if t.startswith("Cancelling") or "is not active" in t]
    assert window.details.progress is not None and window.details.progress.status == "succeeded"
    assert window.details.message_bar.text.startswith("Run 3 ended (succeeded) before it was stopped")


def test_a_close_question_about_runs_that_ended_meanwhile_is_withdrawn(
    qtbot: QtBot, window: MainWindow, gate: Gates, answers: Answers
) -> None:
    gate("Common")
    with qtbot.waitSignal(window.session.tracker.started, timeout=RUN_TIMEOUT_MS):
        window.upgrades.deploy_button.click()

    def run_ends_while_asking(_question: object) -> None:
        with qtbot.waitSignal(window.session.controller.finished, timeout=RUN_TIMEOUT_MS):
            gate.release_all()

    answers.before_answer = run_ends_while_asking
    answers.answer = False  # what a dialog that closed itself answers

    assert window.close(), "nothing is left to cancel: the window closes as asked"
    assert not window.session.jobs.running()


def test_the_deploy_all_question_says_which_modules_get_an_older_build() -> None:
    from app.engine.read.preview import DeployPreview
    from app.engine.runs.planner import DEPLOY, SKIP, DeployPlan, PlanItem
    from app.engine.vocabulary import SkipReason
    from app.gui.controller import describe_plan

    plan = DeployPlan(
        "11.19.0",
        (
            PlanItem(1, "Orders", "Sales", 2, 10, "a" * 64, (), DEPLOY),
            PlanItem(2, "Legacy", "Sales", 1, 3, "b" * 64, (), DEPLOY, platform="11.18.1"),
            PlanItem(3, "Stays", "Sales", 1, 4, "c" * 64, (), SKIP, SkipReason.ALREADY_DEPLOYED),
        ),
    )
    text = describe_plan(DeployPreview(plan, frozenset()))
    assert text.startswith("Deploy All on 11.19.0 will deploy 2 modules.")
    assert "Of those, 1 module did not compile for 11.19.0: it gets its older live build" in text
    assert "1 module will be skipped" in text
