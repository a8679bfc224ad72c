"""The release lifecycle from the window (rules.md#rollback): roll back, stage now, publish solution."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester
from pytestqt.qtbot import QtBot

from app.engine import farm_admin as frontends
from app.engine import operations
from app.engine.events import FrontendSwitched, ItemSnapshot, RunFinished, RunStarted
from app.gui.main_window import MainWindow
from app.gui.modules import pane as modules_pane
from app.gui.modules.model import DRIFT
from tests.gui.conftest import RUN_TIMEOUT_MS, Answers, module_entry, wait_operation, wait_refreshed

DEMO_READY = 24


def statuses(window: MainWindow) -> dict[str, str]:
    return {row.module: row.status for row in window.details.model.rows}


def deploy_all(qtbot: QtBot, window: MainWindow) -> int:
    result = wait_operation(qtbot, window.session, window.upgrades.deploy_button.click)
    assert result.result.ok and result.operation.run_id is not None
    run_id = result.operation.run_id
    qtbot.waitUntil(
        lambda: (
            bool(window.upgrades.report.rows)
            and window.upgrades.report.rows[0].id == run_id
            and window.upgrades.report.rows[0].status != "running"
        ),
        timeout=RUN_TIMEOUT_MS,
    )
    return run_id


# -- roll back -----------------------------------------------------------------------------------


def test_roll_back_a_run_from_its_report_row_says_what_switches_back_first(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    run_id = deploy_all(qtbot, window)
    upgrades = window.upgrades
    assert not upgrades.rollback_action.isEnabled()  # no row chosen yet
    upgrades.select_run(run_id)
    assert upgrades.rollback_action.isEnabled(), upgrades.rollback_action.toolTip()

    result = wait_operation(qtbot, window.session, upgrades.rollback_action.trigger)

    question = answers.questions[-1]
    assert question.title == "Roll back"
    assert f"Rolling back run {run_id} switches {DEMO_READY} modules back" in question.text
    assert "Common:" in question.text and "→" in question.text
    assert result.result.ok
    assert window.stack.currentIndex() == 2  # Details follows the rollback
    progress = window.details.progress
    assert progress is not None and progress.kind == "rollback" and progress.run_id != run_id
    assert list(statuses(window).values()).count("deployed") == DEMO_READY
    qtbot.waitUntil(lambda: window.upgrades.counts["ready"].value.text() == str(DEMO_READY), timeout=RUN_TIMEOUT_MS)


def test_declining_the_rollback_starts_nothing(qtbot: QtBot, window: MainWindow, answers: Answers) -> None:
    run_id = deploy_all(qtbot, window)
    answers.answer = False
    window.upgrades.select_run(run_id)
    window.upgrades.rollback_action.trigger()
    qtbot.waitUntil(lambda: answers.questions[-1].title == "Roll back", timeout=RUN_TIMEOUT_MS)
    assert not window.session.controller.operations
    assert window.details.progress is not None and window.details.progress.run_id == run_id


def test_asking_twice_while_the_plan_is_read_asks_once(qtbot: QtBot, window: MainWindow, answers: Answers) -> None:
    run_id = deploy_all(qtbot, window)
    window.upgrades.select_run(run_id)
    asked = len(answers.questions)

    def ask_from_both_panes() -> None:
        window.upgrades.rollback_action.trigger()
        window.details.run_actions.rollback_action.trigger()

    result = wait_operation(qtbot, window.session, ask_from_both_panes)

    assert result.result.ok
    assert [q.title for q in answers.questions[asked:]] == ["Roll back"]
    assert not window.session.controller.operations


def test_an_upgrade_run_has_nothing_to_roll_back(qtbot: QtBot, window: MainWindow) -> None:
    upgrade = next(row for row in window.upgrades.report.rows if row.kind == "upgrade")
    window.upgrades.select_run(upgrade.id)
    assert not window.upgrades.rollback_action.isEnabled()
    assert "makes nothing live" in window.upgrades.rollback_action.toolTip()


def test_roll_back_the_run_shown_in_details(qtbot: QtBot, window: MainWindow, answers: Answers) -> None:
    run_id = deploy_all(qtbot, window)
    details = window.details
    assert details.progress is not None and details.progress.run_id == run_id
    assert details.run_actions.rollback_action.isEnabled(), details.run_actions.rollback_action.toolTip()

    result = wait_operation(qtbot, window.session, details.run_actions.rollback_action.trigger)

    assert f"Rolling back run {run_id}" in answers.questions[-1].text
    assert result.result.ok and result.operation.pane == "details"
    assert details.progress is not None and details.progress.kind == "rollback"
    assert details.progress.run_id == result.operation.run_id
    assert not details.progress.running


def test_roll_back_selected_modules_one_release(qtbot: QtBot, window: MainWindow, answers: Answers) -> None:
    deploy_all(qtbot, window)
    modules = window.modules

    def localization_deployed() -> bool:
        entry = window.modules_model.entry("Localization")
        return entry is not None and entry.state == "deployed"

    qtbot.waitUntil(localization_deployed, timeout=RUN_TIMEOUT_MS)
    modules.select("Localization")
    modules.update_actions()
    assert modules.rollback_action.isEnabled(), modules.rollback_action.toolTip()

    result = wait_operation(qtbot, window.session, modules.rollback_action.trigger)

    text = answers.questions[-1].text
    assert "the chosen modules switches 1 module back" in text and "Localization:" in text
    assert result.result.ok
    assert window.details.progress is not None and window.details.progress.kind == "rollback"
    assert statuses(window) == {"Localization": "deployed"}
    qtbot.waitUntil(
        lambda: module_entry(window.modules_model, "Localization").state == "ready",
        timeout=RUN_TIMEOUT_MS,
    )


# -- stage now ---------------------------------------------------------------------------------


def test_stage_now_confirms_the_plan_stages_and_the_counts_say_so(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    upgrades = window.upgrades
    assert upgrades.counts["staged"].value.text() == "0"
    assert upgrades.stage_button.isEnabled()

    result = wait_operation(qtbot, window.session, upgrades.stage_button.click)

    text = answers.questions[-1].text
    assert f"will write {DEMO_READY} releases to every enabled front-end and switch nothing" in text
    assert result.result.ok
    progress = window.details.progress
    assert progress is not None and progress.kind == "stage"
    assert list(statuses(window).values()).count("staged") == DEMO_READY
    qtbot.waitUntil(lambda: upgrades.counts["staged"].value.text() == str(DEMO_READY), timeout=RUN_TIMEOUT_MS)
    assert upgrades.counts["ready"].value.text() == str(DEMO_READY)  # staged is not live


# -- publish solution ------------------------------------------------------------------------


def test_publish_solution_for_every_module_from_upgrades(qtbot: QtBot, window: MainWindow, answers: Answers) -> None:
    result = wait_operation(qtbot, window.session, window.upgrades.solution_button.click)

    assert answers.questions[-1].title == "Publish solution"
    assert result.result.ok
    progress = window.details.progress
    assert progress is not None and progress.kind == "publish-solution"
    assert len(progress.rows) == window.modules_model.rowCount()


def test_publish_solution_for_the_selected_modules(qtbot: QtBot, window: MainWindow, answers: Answers) -> None:
    modules = window.modules
    modules.select("Common")
    modules.update_actions()
    assert modules.solution_action.isEnabled(), modules.solution_action.toolTip()

    result = wait_operation(qtbot, window.session, modules.solution_action.trigger)

    assert "Publish solution for Common?" in answers.questions[-1].text
    assert result.result.ok and result.operation.pane == "modules"
    progress = window.details.progress
    assert progress is not None and progress.kind == "publish-solution"
    assert [row.module for row in progress.rows] == ["Common"]


def test_details_suggests_publish_solution_for_a_damaged_build_that_failed_twice_in_a_row(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    plan = operations.plan_deploy_all(window.session.ctx)
    sha = next(item.artifact_sha256 for item in plan.items if item.module == "Identity")
    assert sha is not None
    window.session.ctx.artifacts.path(sha).write_bytes(b"damaged")  # compiling again repairs it
    details = window.details

    deploy_all(qtbot, window)
    assert details.progress is not None
    details.select_row(details.progress.index["identity"])
    assert "failed in this Deploy All and in the one before" not in details.item.detail.text()  # once is no pattern
    assert details.item.solution_button.isVisibleTo(window), "a damaged build is repaired by compiling again"

    # a second Deploy All, Identity fails again
    wait_operation(qtbot, window.session, details.run_actions.again_action.trigger)
    assert details.progress is not None and details.progress.kind == "deploy-all"
    details.select_row(details.progress.index["identity"])
    qtbot.waitUntil(
        lambda: "Identity failed in this Deploy All and in the one before" in details.item.detail.text(),
        timeout=RUN_TIMEOUT_MS,
    )
    assert details.item.solution_button.isVisibleTo(window)
    customers = details.progress.index["customers"]  # blocked, not failed: no suggestion
    details.select_row(customers)
    assert not details.item.solution_button.isVisibleTo(window)
    details.select_row(details.progress.index["identity"])

    result = wait_operation(qtbot, window.session, details.item.solution_button.click)

    assert "Publish solution for Identity?" in answers.questions[-1].text
    assert result.result.ok
    assert details.progress is not None and details.progress.kind == "publish-solution"
    assert statuses(window)["Identity"] == "deployed"


# -- per front-end state ---------------------------------------------------------------------


def test_the_selected_item_says_what_each_front_end_holds(qtbot: QtBot, window: MainWindow) -> None:
    deploy_all(qtbot, window)
    details = window.details
    assert details.progress is not None
    details.select_row(details.progress.index["common"])
    qtbot.waitUntil(lambda: "On the front-ends: default live" in details.item.detail.text(), timeout=RUN_TIMEOUT_MS)


def test_a_rolling_run_shows_each_front_end_and_its_health_check(qtbot: QtBot, window: MainWindow) -> None:
    """The events of a rolling run, as the bridge hands them over, fold into the log and one line."""
    now = datetime.now(UTC)
    items = (ItemSnapshot("Common", "Core", 1, "pending"),)
    tracker = window.session.tracker
    window.show_pane(2)
    tracker.apply_events([RunStarted(9001, "deploy-all", "tester", now, items)])
    details = window.details
    assert details.progress is not None and details.progress.run_id == 9001
    assert not details.header.waves.isVisibleTo(window)

    tracker.apply_events(
        [FrontendSwitched(9001, "web1", 1, True, None), FrontendSwitched(9001, "web2", 1, True, "exit status 3")]
    )

    line = details.header.waves.text()
    assert details.header.waves.isVisibleTo(window)
    assert "web1 ✓ 1 module switched, health check passed" in line
    assert "web2 ✗ 1 module switched, health check failed: exit status 3" in line
    log = details.log.view.toPlainText()
    assert "front-end web1: 1 module switched, health check passed" in log
    assert "front-end web2: 1 module switched, health check failed: exit status 3" in log
    tracker.apply_events([RunFinished(9001, "failed", {"failed": 1})])


# -- drift in Modules --------------------------------------------------------------------------


def test_modules_mark_the_modules_whose_front_ends_disagree(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pane reads the farm at most every 15 s; this test waits for three reads, not for the limit.
    monkeypatch.setattr(modules_pane, "DRIFT_INTERVAL_S", 0.2)
    model, pane = window.modules_model, window.modules
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    result = wait_operation(
        qtbot,
        window.session,
        lambda: window.session.controller.quick(
            "Add front-end",
            "frontends",
            lambda: frontends.add_frontend(window.session.ctx, "web2", str(tmp_path / "web2")),
            "added",
        ),
    )
    assert result.result.ok and model.drift_count() == 0
    wait_refreshed(qtbot, window.session)
    # web2 is empty while default runs the demo's releases: every module live there disagrees.
    qtbot.waitUntil(lambda: model.drift_count() > 0, timeout=RUN_TIMEOUT_MS)
    common = model.entry("Common")
    assert common is not None and common.drift
    state = model.column_index("State")
    common_row = model.row_of("Common")
    assert common_row is not None
    index = model.index(common_row, state)
    assert "front-ends disagree" in model.data(index, Qt.ItemDataRole.DisplayRole)
    assert "run different releases" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert "where the front-ends disagree" in pane.shown.text()

    # Every live release everywhere: what deployed, and the older builds of the modules whose
    # compilation failed (they run on web2 too now), so nothing disagrees any more.
    deploy_all(qtbot, window)
    old_builds = [entry for entry in model.rows if entry.state == "compilation-failed" and entry.deployed_version]
    assert old_builds
    qtbot.waitUntil(lambda: model.drift_count() == 0, timeout=RUN_TIMEOUT_MS)
    index = model.index(common_row, state)
    assert "front-ends disagree" not in model.data(index, Qt.ItemDataRole.DisplayRole)

    (tmp_path / "web2" / "Common" / "CURRENT").unlink()
    wait_refreshed(qtbot, window.session)
    qtbot.waitUntil(lambda: module_entry(model, "Common").drift, timeout=RUN_TIMEOUT_MS)
    pane.state_filter.setCurrentIndex(pane.state_filter.findData(DRIFT))
    assert {pane.proxy.entry(n).name for n in range(pane.proxy.rowCount())} == {"Common"}


def test_details_tally_what_each_front_end_holds_when_there_are_several(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    details = window.details
    deploy_all(qtbot, window)
    qtbot.waitUntil(lambda: not window.session.jobs.running("run record"), timeout=RUN_TIMEOUT_MS)
    assert not details.header.waves.isVisibleTo(window)  # one front-end: its modules' lines say it all
    result = wait_operation(
        qtbot,
        window.session,
        lambda: window.session.controller.quick(
            "Add front-end",
            "frontends",
            lambda: frontends.add_frontend(window.session.ctx, "web2", str(tmp_path / "web2")),
            "added",
        ),
    )
    assert result.result.ok
    window.upgrades.select_run(window.upgrades.report.rows[0].id)

    wait_operation(qtbot, window.session, details.run_actions.rollback_action.trigger)

    qtbot.waitUntil(lambda: details.header.waves.isVisibleTo(window), timeout=RUN_TIMEOUT_MS)
    line = details.header.waves.text()
    assert f"default {DEMO_READY} live" in line and f"web2 {DEMO_READY} live" in line


def test_a_rolling_deploy_from_the_window_shows_each_health_check(
    qtbot: QtBot, window: MainWindow, answers: Answers, tmp_path: Path
) -> None:
    upgrades, details = window.upgrades, window.details
    assert not upgrades.rolling_action.isEnabled()  # one front-end: nothing to roll
    assert "two enabled front-ends" in upgrades.rolling_action.toolTip()
    result = wait_operation(
        qtbot,
        window.session,
        lambda: window.session.controller.quick(
            "Add front-end",
            "frontends",
            lambda: frontends.add_frontend(
                window.session.ctx,
                "web2",
                str(tmp_path / "web2"),
                frontends.HookSettings(health_cmd="exit 3", health_timeout=1),
            ),
            "added",
        ),
    )
    assert result.result.ok
    qtbot.waitUntil(upgrades.rolling_action.isEnabled, timeout=RUN_TIMEOUT_MS)

    result = wait_operation(qtbot, window.session, upgrades.rolling_action.trigger)

    assert "Front-ends switch one at a time (default, web2)" in answers.questions[-1].text
    assert result.result.ok
    progress = details.progress
    assert progress is not None and progress.status == "failed"
    assert list(progress.waves) == ["default", "web2"]
    line = details.header.waves.text()
    assert "default ✓" in line and "web2 ✗" in line and "health check failed" in line
    assert "front-end web2: " in details.log.view.toPlainText()
