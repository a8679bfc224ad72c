"""Guidance that does not mislead: Publish solution only where compiling again helps, a rolling run's
phases in its progress and timeline, a rollback shown at once and said as such, and a first
Remaining estimate from the run's pace rather than from its slow start."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.engine import farm_admin as frontends
from app.engine import operations
from app.engine.events import ItemFinished, ItemSnapshot, RolloutPhase, RunFinished, RunStarted
from app.gui.controller import Operation
from app.gui.formatting import utcnow
from app.gui.main_window import MainWindow
from app.gui.run_progress import RunProgress
from tests.gui.conftest import RUN_TIMEOUT_MS, Answers, wait_operation, wait_planned

FAILING = "Identity"


def deploy_all(qtbot: QtBot, window: MainWindow) -> int:
    result = wait_operation(qtbot, window.session, window.upgrades.deploy_button.click)
    assert result.operation.run_id is not None
    wait_planned(qtbot, window.session)
    return result.operation.run_id


def select(window: MainWindow, module: str) -> None:
    progress = window.details.progress
    assert progress is not None
    window.details.select_row(progress.index[module.casefold()])


def solution_shown(window: MainWindow) -> bool:
    return window.details.item.solution_button.isVisibleTo(window)


# -- publish solution ------------------------------------------------------------------------------


def test_publish_solution_is_not_suggested_for_a_front_end_problem(qtbot: QtBot, window: MainWindow) -> None:
    frontend = Path(window.session.snapshot.status.frontends[0].location)  # type: ignore[union-attr]
    stray = frontend / FAILING / "notes.txt"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_text("not Deploy Center's", encoding="utf-8")
    deploy_all(qtbot, window)
    wait_operation(qtbot, window.session, window.details.run_actions.again_action.trigger)  # fails again
    progress = window.details.progress
    assert progress is not None
    qtbot.waitUntil(lambda: FAILING in progress.repeated_failures, timeout=RUN_TIMEOUT_MS)  # two Deploy Alls in a row

    select(window, FAILING)

    assert not solution_shown(window), "compiling again cannot remove a file from a front-end"
    assert "Remove the cause, then Deploy again" in window.details.item.detail.text()


def test_publish_solution_is_suggested_for_a_damaged_build_until_the_module_is_fixed(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    plan = operations.plan_deploy_all(window.session.ctx)
    sha = next(item.artifact_sha256 for item in plan.items if item.module == FAILING)
    assert sha is not None
    window.session.ctx.artifacts.path(sha).write_bytes(b"not the zip it was")
    failed_run = deploy_all(qtbot, window)
    select(window, FAILING)
    assert solution_shown(window), window.details.item.detail.text()
    assert "its stored build is damaged: Publish solution compiles it again" in window.details.item.detail.text()

    result = wait_operation(qtbot, window.session, window.details.item.solution_button.click)

    assert result.result.ok and answers.questions[-1].title == "Publish solution"
    qtbot.waitUntil(lambda: window.modules_model.entry(FAILING).state == "deployed", timeout=RUN_TIMEOUT_MS)  # type: ignore[union-attr]
    window.open_run(failed_run)
    qtbot.waitUntil(lambda: window.details.progress is not None and window.details.progress.run_id == failed_run)
    select(window, FAILING)
    assert not solution_shown(window), "the module was fixed since: nothing left to solve"


# -- a rolling run's phases ------------------------------------------------------------------------


def test_a_rolling_run_shows_its_switch_phase_in_the_progress_and_the_timeline(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    gate = tmp_path / "health-gate"
    os.mkfifo(gate)  # web2's health check waits here until the test has looked
    session = window.session
    added = wait_operation(
        qtbot,
        session,
        lambda: session.controller.quick(
            "Add",
            "frontends",
            lambda: frontends.add_frontend(
                session.ctx,
                "web2",
                str(tmp_path / "web2"),
                frontends.HookSettings(health_cmd=f"cat {gate} > /dev/null"),
            ),
            "added",
        ),
    )
    assert added.result.ok
    wait_planned(qtbot, session)
    details = window.details

    def open_gate() -> None:
        with open(gate, "w") as pipe:
            pipe.write("go\n")

    opener = threading.Thread(target=open_gate, daemon=True)
    try:
        with qtbot.waitSignal(session.tracker.started, timeout=RUN_TIMEOUT_MS):
            window.upgrades.rolling_action.trigger()
        qtbot.waitUntil(
            lambda: details.header.bar.format().startswith("Checking the health of web2 (2 of 2)"),
            timeout=RUN_TIMEOUT_MS,
        )
        assert details.header.bar.format().endswith("staged everywhere")
        assert (details.header.bar.value(), details.header.bar.maximum()) == (1, 2), "default is done, web2 is not"
        assert details.timeline.lanes is not None and details.timeline.lanes.frontends() == ["default", "web2"]
    finally:
        with qtbot.waitSignal(session.controller.finished, timeout=RUN_TIMEOUT_MS):
            opener.start()  # whatever happened above: the health check waits for it
        opener.join(timeout=10)
    progress = details.progress
    assert progress is not None and progress.status == "succeeded" and progress.rollout is not None
    steps = [(span.frontend, span.phase) for span in progress.rollout.spans]
    assert steps == [
        (None, "stage"),
        ("default", RolloutPhase.SWITCHING),
        ("default", RolloutPhase.HEALTH),
        ("web2", RolloutPhase.SWITCHING),
        ("web2", RolloutPhase.HEALTH),
    ]
    assert all(span.end is not None for span in progress.rollout.spans)
    frame = details.timeline._frame()
    assert frame.span_rect(progress.rollout.spans[-1], 1, frame.span).width() >= 2


# -- rollback ------------------------------------------------------------------------------------------


def test_a_rollback_is_shown_at_once_and_says_which_version_it_went_back_to(
    qtbot: QtBot, window: MainWindow, answers: Answers
) -> None:
    run_id = deploy_all(qtbot, window)
    window.upgrades.select_run(run_id)
    seen: list[str] = []

    def look(_op: Operation) -> None:  # connected after the pane: what it shows right after the yes
        seen.append(window.details.header.title.text())

    window.session.controller.run_starting.connect(look)

    result = wait_operation(qtbot, window.session, window.upgrades.rollback_action.trigger)

    assert seen == [f"Roll back run {run_id}: starting…"]
    assert result.result.ok
    progress = window.details.progress
    assert progress is not None and progress.kind == "rollback"
    model = window.details.model
    shown = {row.module: model.index(n, model.column_index("Status")).data() for n, row in enumerate(model.rows)}
    assert shown["Common"] == "Rolled back to v1"


def test_a_module_held_by_a_rollback_says_it_is_rolled_back(qtbot: QtBot, window: MainWindow) -> None:
    tracker = window.session.tracker
    items = (ItemSnapshot("Orders", "Sales", 1, "pending"),)
    tracker.apply_events([RunStarted(91, "rollback", "ci", utcnow(), items)])
    tracker.apply_events([ItemFinished(91, "Orders", "deployed", None, None, 0.2)])
    entry = window.modules_model.entry("Orders")
    qtbot.waitUntil(lambda: entry is not None and entry.label == "Rolled back to v1 · held by run 91")
    tracker.apply_events([RunFinished(91, "succeeded")])


# -- remaining time ----------------------------------------------------------------------------------


def test_the_first_remaining_estimate_follows_the_pace_not_the_slow_start() -> None:
    """A run that needed 10 s to start, then did 100 modules a second: about 17 s are left at 12 s."""
    start = utcnow() - timedelta(seconds=60)
    items = tuple(ItemSnapshot(f"M{n}", "App", 1, "pending") for n in range(2000))
    progress = RunProgress.from_started(RunStarted(7, "deploy-all", "me", start, items))
    finished = 0
    estimates = []
    for second in (10.0, 10.5, 11.0, 11.5, 12.0):
        while finished < (second - 9.0) * 100:
            progress.apply_event(ItemFinished(7, f"M{finished}", "deployed", None, None, 0.01))
            finished += 1
        estimates.append(progress.eta(start + timedelta(seconds=second)))
    assert estimates[:4] == [None, None, None, None], "no estimate before the pace was watched long enough"
    left = estimates[-1]
    assert left is not None and 15 <= left <= 19, left  # the average since the start said 57 s
