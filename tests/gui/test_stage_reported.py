"""A stage run says what it staged (its report row and its details), and the Deploy All after it says
that those modules are staged and only switch."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.gui.main_window import MainWindow
from tests.gui.conftest import RUN_TIMEOUT_MS, Answers, wait_operation, wait_planned

DEMO_READY = 24


def column(window: MainWindow, title: str, row: int = 0) -> str:
    report = window.upgrades.report
    return str(report.index(row, report.column_index(title)).data())


def test_a_stage_run_reports_its_staged_modules_and_deploy_all_then_only_switches(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    result = wait_operation(qtbot, window.session, window.upgrades.stage_button.click)
    assert result.result.ok
    wait_planned(qtbot, window.session)
    qtbot.waitUntil(lambda: window.upgrades.report.rows[0].status == "succeeded", timeout=RUN_TIMEOUT_MS)

    assert window.upgrades.report.rows[0].kind == "stage"
    assert column(window, "Done") == f"{DEMO_READY} staged", "a stage run deploys nothing: it stages"
    title = window.details.header.title.text()
    assert f"Succeeded: {DEMO_READY} staged on every enabled front-end, nothing switched" in title
    assert window.upgrades.counts["staged"].value.text() == str(DEMO_READY)
    assert f"{DEMO_READY} of them are staged already and only switch." in window.upgrades.subtitle.text()

    wait_operation(qtbot, window.session, window.upgrades.deploy_button.click)

    question = answers.questions[-1].text
    assert f"will deploy {DEMO_READY} modules" in question
    assert f"{DEMO_READY} modules are staged already: their releases are on the front-ends, so they only switch" in (
        question
    )
