"""The Change control pane: saved plans approved and run from the window, windows and freezes added
and removed, and a Deploy button that says why it is refused now and when it will be allowed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtTest import QAbstractItemModelTester
from pytestqt.qtbot import QtBot

from app.engine.control import plans as saved_plans
from app.engine.control.document import PlanTarget, read_plan_file
from app.engine.control.schedule import WEEKDAYS
from app.engine.policy import PolicyChange, set_policy
from app.engine.runs.options import RunOptions
from app.engine.vocabulary import RunKind
from app.gui.change_control.pane import LOAD_JOB, PANE
from app.gui.main_window import PANES, MainWindow
from app.gui.notifier import ERROR
from tests.gui.conftest import RUN_TIMEOUT_MS, wait_operation, wait_refreshed

CHANGES = PANES.index("changes")


def loaded(qtbot: QtBot, window: MainWindow) -> None:
    """Read the pane again and wait for that reading (not one started before, which may miss a change)."""
    qtbot.waitUntil(lambda: not window.session.jobs.running(LOAD_JOB), timeout=RUN_TIMEOUT_MS)
    with qtbot.waitSignal(
        window.session.jobs.finished, timeout=RUN_TIMEOUT_MS, check_params_cb=lambda result: result.name == LOAD_JOB
    ):
        window.changes.load()


def done(qtbot: QtBot, window: MainWindow, act: object) -> None:
    """Do a pane action (a quick operation) and wait until the pane has read the result back."""
    assert callable(act)
    result = wait_operation(qtbot, window.session, act)
    assert result.result.ok, result.result.error_text
    loaded(qtbot, window)


def as_identity(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("LOGNAME", name)
    monkeypatch.setenv("USER", name)


def test_the_models_pass_qt_checks(qtbot: QtBot, window: MainWindow) -> None:
    pane = window.changes
    for model in (pane.plans_model, pane.windows_model, pane.freezes_model):
        QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    window.show_pane(CHANGES)
    loaded(qtbot, window)
    assert "A change may start now." in pane.summary.text()


def test_a_plan_saved_in_the_window_is_approved_by_another_and_run_from_there(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_identity(monkeypatch, "alice")
    ctx = window.session.ctx
    set_policy(ctx, PolicyChange(approvals=1))
    wait_refreshed(qtbot, window.session)
    assert not window.upgrades.deploy_action.isEnabled()
    assert "1 approval(s) of a saved plan are required" in window.upgrades.deploy_action.toolTip()
    window.show_pane(CHANGES)
    pane = window.changes
    loaded(qtbot, window)

    path = tmp_path / "from-window.json"
    done(qtbot, window, lambda: pane.save_plan_to(path))
    saved = read_plan_file(path)
    as_identity(monkeypatch, "carol")  # another maker: another plan, whatever the second it is made in
    same = saved_plans.save_plan(ctx, RunKind.DEPLOY_ALL, PlanTarget(), RunOptions(), tmp_path / "cli.json")
    as_identity(monkeypatch, "alice")
    cli = read_plan_file(tmp_path / "cli.json")
    assert same.items == len(saved.items)
    for key in ("kind", "target", "platform_version", "frontends", "options", "items", "environment"):
        assert saved.content[key] == cli.content[key]

    plan = next(p for p in pane.plans_model.rows if p.plan_id == saved.plan_id)
    pane.select_plan(plan.plan_id)
    assert not pane.approve_action.isEnabled() and "your plan" in pane.approve_action.toolTip()
    assert not pane.run_action.isEnabled()

    as_identity(monkeypatch, "bob")
    loaded(qtbot, window)
    pane.select_plan(plan.plan_id)
    assert pane.approve_action.isEnabled()
    pane.ask_comment = lambda _plan: "reviewed in the window"
    done(qtbot, window, pane.request_approve)
    pane.select_plan(plan.plan_id)
    approved = pane.selected_plan()
    assert approved is not None and [a.comment for a in approved.approvals] == ["reviewed in the window"]
    assert pane.revoke_action.isEnabled() and pane.run_action.isEnabled()

    as_identity(monkeypatch, "alice")
    result = wait_operation(qtbot, window.session, pane.request_run)
    assert result.result.ok, result.result.error_text
    assert result.result.value.status == "succeeded"
    loaded(qtbot, window)
    ran = next(p for p in pane.plans_model.rows if p.plan_id == saved.plan_id)
    assert ran.run_id == result.result.value.run_id
    other = next(p for p in pane.plans_model.rows if p.plan_id == cli.plan_id)
    assert other.stale, "the plan saved beside it no longer holds once the first one ran"


def test_the_deploy_button_says_why_it_is_refused_and_when_it_will_be_allowed(qtbot: QtBot, window: MainWindow) -> None:
    window.show_pane(CHANGES)
    pane = window.changes
    loaded(qtbot, window)
    later = datetime.now(UTC) + timedelta(days=3)
    start = f"{WEEKDAYS[later.weekday()]} 12:00"
    done(qtbot, window, lambda: pane.add_window(start, 1, "UTC"))
    assert [w.window.start_text for w in pane.windows_model.rows] == [start]
    wait_refreshed(qtbot, window.session)

    tip = window.upgrades.deploy_action.toolTip()
    assert not window.upgrades.deploy_action.isEnabled()
    assert tip.startswith("Outside every change window; the next opens") and later.strftime("%Y-%m-%d 12:00") in tip
    assert window.upgrades.stage_action.isEnabled(), "staging switches nothing: it may start any time"
    assert "Outside every change window" in pane.summary.text()

    pane.windows_table.selectRow(0)
    done(qtbot, window, pane.request_remove_window)
    assert pane.windows_model.rows == []
    wait_refreshed(qtbot, window.session)
    assert window.upgrades.deploy_action.isEnabled()


def test_freezes_are_added_and_removed_and_bad_input_is_said_in_the_pane(qtbot: QtBot, window: MainWindow) -> None:
    window.show_pane(CHANGES)
    pane = window.changes
    loaded(qtbot, window)
    done(qtbot, window, lambda: pane.add_freeze("2020-01-01T00:00", "2099-01-01T00:00", "Europe/Lisbon", "audit"))
    assert [(f.freeze.reason, f.active) for f in pane.freezes_model.rows] == [("audit", True)]
    assert "Inside freeze" in pane.summary.text() and "audit" in pane.summary.text()

    result = wait_operation(qtbot, window.session, lambda: pane.add_freeze("2026-01-02", "2026-01-01", "UTC", None))
    assert not result.result.ok
    errors = [m for m in window.session.notifier.messages if m.level == ERROR and m.pane == PANE]
    assert errors and "ends (2026-01-01) before it starts" in errors[-1].text
    assert pane.message_bar.isVisible()

    pane.freezes_table.selectRow(0)
    done(qtbot, window, pane.request_remove_freeze)
    assert pane.freezes_model.rows == []
