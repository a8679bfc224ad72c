"""A Deploy All started by ``--unattended`` in another process shows up, live, and locks actions."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.engine.context import Location
from app.engine.runs.executor import CANCEL_POLL_INTERVAL
from app.gui.main_window import MainWindow
from tests.conftest import Cli
from tests.gui.conftest import RUN_TIMEOUT_MS, Gates, wait_operation

pytestmark = pytest.mark.slow


@pytest.fixture
def cli_run(
    location: Location, gate: Gates, window: MainWindow, capsys: pytest.CaptureFixture[str]
) -> Iterator[subprocess.Popen[str]]:
    """``deploy-all`` in a child process, held on Common until the test releases the gate."""
    gate("Common")
    child = Cli(location.data_dir, capsys).spawn("deploy-all", "--workers", "1")
    yield child
    gate.release_all()
    child.communicate(timeout=60)


def test_a_run_of_another_process_appears_and_locks_actions(
    qtbot: QtBot, window: MainWindow, gate: Gates, cli_run: subprocess.Popen[str]
) -> None:
    tracker = window.session.tracker
    qtbot.waitUntil(lambda: tracker.newest_active() is not None, timeout=RUN_TIMEOUT_MS)
    run = tracker.newest_active()
    assert run is not None and run.kind == "deploy-all" and not run.own

    qtbot.waitUntil(lambda: window.details.progress is run, timeout=RUN_TIMEOUT_MS)
    assert "(started in another process)" in window.details.header.title.text()
    assert window.run_bar.isVisible() and f"Run {run.run_id}" in window.run_label.text()
    assert not window.upgrades.deploy_action.isEnabled()
    window.modules.select("Orders")
    assert not window.modules.apply_action.isEnabled()
    window.modules.select("Recruiting")
    assert window.modules.apply_action.isEnabled()

    with qtbot.waitSignal(tracker.ended, timeout=RUN_TIMEOUT_MS):
        gate.release_all()

    assert run.status == "succeeded"
    assert {row.status for row in run.rows} == {"deployed", "skipped"}
    qtbot.waitUntil(
        lambda: window.modules.apply_action.isEnabled() or not window.modules.selected(), timeout=RUN_TIMEOUT_MS
    )
    window.modules.select("Orders")
    assert window.modules.apply_action.isEnabled()
    assert cli_run.wait(timeout=60) == 0


def test_cancel_reaches_a_run_of_another_process(
    qtbot: QtBot, window: MainWindow, gate: Gates, cli_run: subprocess.Popen[str]
) -> None:
    tracker = window.session.tracker
    qtbot.waitUntil(window.details.run_actions.cancel_action.isEnabled, timeout=RUN_TIMEOUT_MS)

    wait_operation(qtbot, window.session, window.details.run_actions.cancel_action.trigger)  # the request is recorded
    # The other process polls the request every CANCEL_POLL_INTERVAL; Common holds its one
    # worker meanwhile, so after two intervals it has surely seen it and hands out nothing more.
    qtbot.wait(int(CANCEL_POLL_INTERVAL * 2000))
    with qtbot.waitSignal(tracker.ended, timeout=RUN_TIMEOUT_MS) as ended:
        gate.release_all()  # the module already deploying finishes; the others are cancelled

    assert ended.args[0].status == "cancelled"
    assert {row.status for row in ended.args[0].rows} == {"deployed", "cancelled", "skipped"}
    assert cli_run.wait(timeout=60) == 1, "cancelled from elsewhere: finished, some modules not deployed"


def test_the_readme_says_what_a_run_cancelled_from_the_window_exits_with() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| 1 |"))
    assert "cancelled from the window" in row
