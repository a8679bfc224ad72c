"""A refusal in the window names the run, who started it and when, as the command line does; a
front-end that cannot be reached says why in the Front-ends pane itself."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.engine import farm_admin as frontends
from app.gui.formatting import timestamp
from app.gui.main_window import PANES, MainWindow
from tests.gui.conftest import RUN_TIMEOUT_MS, Gates, wait_operation


def start_held_run(qtbot: QtBot, window: MainWindow, gate: Gates) -> str:
    """A Deploy All that waits on Common; returns how a refusal names it."""
    gate("Common")
    with qtbot.waitSignal(window.session.tracker.started, timeout=RUN_TIMEOUT_MS) as started:
        window.upgrades.deploy_button.click()
    run = started.args[0]
    return f"run {run.run_id} (deploy-all) started by {run.started_by} at {timestamp(run.started_at)}"


def test_every_refusal_of_the_window_names_who_started_the_run_and_when(
    qtbot: QtBot, window: MainWindow, gate: Gates
) -> None:
    named = start_held_run(qtbot, window, gate)
    assert window.upgrades.deploy_action.toolTip() == f"R{named[1:]} is in progress"
    assert window.upgrades.rolling_action.toolTip() == f"R{named[1:]} is in progress"
    window.modules.select("Orders")
    window.modules.update_actions()
    assert window.modules.why_label.text().startswith(f"Orders is held by {named}, which is in progress")
    assert window.modules.apply_action.toolTip() == f"Orders is held by {named}, which is in progress"
    oldest = window.upgrades.report.rows[-1]  # the demo's first publish, while this run goes on
    assert oldest.kind == "publish"
    window.open_run(oldest.id)
    qtbot.waitUntil(lambda: window.details.progress is not None and window.details.progress.run_id == oldest.id)
    window.details.run_actions.update()
    assert window.details.run_actions.rollback_action.toolTip() == f"R{named[1:]} is in progress"


def test_an_unreachable_front_end_says_why_in_the_pane(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "web2"
    session = window.session
    added = wait_operation(
        qtbot,
        session,
        lambda: session.controller.quick(
            "Add front-end", "frontends", lambda: frontends.add_frontend(session.ctx, "web2", str(folder)), "added"
        ),
    )
    assert added.result.ok
    shutil.rmtree(folder)
    folder.write_text("not a folder any more\n", encoding="utf-8")
    window.show_pane(PANES.index("frontends"))
    with qtbot.waitSignal(
        session.jobs.finished, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda result: result.name == "farm"
    ):
        window.frontends.check_action.trigger()

    state = next(s for s in window.frontends.model.rows if s.frontend.name == "web2")
    assert not state.reachable and state.problem
    summary = window.frontends.summary.text()
    assert summary.startswith("1 front-end cannot be reached (web2: ")
    assert state.problem in summary, "the reason is on screen, not only in a tooltip"


def test_one_front_end_in_step_is_said_in_good_english(qtbot: QtBot, window: MainWindow) -> None:
    window.show_pane(PANES.index("frontends"))
    qtbot.waitUntil(lambda: window.frontends.farm is not None, timeout=RUN_TIMEOUT_MS)
    assert window.frontends.summary.text() == "The one enabled front-end, default, runs what is recorded."
