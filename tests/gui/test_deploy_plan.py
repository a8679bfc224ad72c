"""The window offers what the engine's Deploy All plan offers: a front-end added or enabled since is
brought up to date from the Deploy button, Deploy selected and Rolling deploy, as `deploy-all` does."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.engine import farm_admin as frontends
from app.engine.read import views
from app.gui.main_window import MainWindow
from tests.gui.conftest import RUN_TIMEOUT_MS, Answers, wait_operation, wait_planned

DEMO_READY = 24
CATCH_UP = 29  # the 24 deployed, and 5 of the 6 that did not compile (their older build; one never had one)


def deploy_all(qtbot: QtBot, window: MainWindow) -> None:
    result = wait_operation(qtbot, window.session, window.upgrades.deploy_button.click)
    assert result.result.ok, result.result.error_text
    wait_planned(qtbot, window.session)


def add_frontend(qtbot: QtBot, window: MainWindow, name: str, folder: Path) -> None:
    session = window.session
    result = wait_operation(
        qtbot,
        session,
        lambda: session.controller.quick(
            "Add front-end", "frontends", lambda: frontends.add_frontend(session.ctx, name, str(folder)), "added"
        ),
    )
    assert result.result.ok, result.result.error_text
    wait_planned(qtbot, session)


def count(window: MainWindow, key: str) -> str:
    return window.upgrades.counts[key].value.text()


def test_a_new_front_end_is_brought_up_to_date_from_the_window(
    qtbot: QtBot, window: MainWindow, answers: Answers, tmp_path: Path
) -> None:
    deploy_all(qtbot, window)
    upgrades = window.upgrades
    qtbot.waitUntil(lambda: count(window, "ready") == "0", timeout=RUN_TIMEOUT_MS)
    assert not upgrades.deploy_action.isEnabled()

    add_frontend(qtbot, window, "web2", tmp_path / "web2")

    planned = views.deploy_plan(window.session.ctx)  # what `deploy-all --dry-run` says
    assert len(planned.to_deploy) == CATCH_UP
    qtbot.waitUntil(lambda: count(window, "ready") == str(CATCH_UP), timeout=RUN_TIMEOUT_MS)
    assert count(window, "deployed") == "0"  # none is live on every enabled front-end
    assert upgrades.deploy_action.isEnabled(), upgrades.deploy_action.toolTip()
    assert upgrades.rolling_action.isEnabled(), upgrades.rolling_action.toolTip()
    assert upgrades.stage_action.isEnabled()
    assert f"Of those, web2 lacks {CATCH_UP}: Deploy All brings it up to date." in upgrades.subtitle.text()
    window.modules.select("Orders")
    window.modules.update_actions()
    assert window.modules.deploy_action.isEnabled(), window.modules.deploy_action.toolTip()
    assert window.modules_model.entry("Orders").label == "Deployed · not on web2"  # type: ignore[union-attr]

    deploy_all(qtbot, window)

    question = answers.questions[-1].text
    assert f"will deploy {CATCH_UP} modules" in question
    assert f"Of those, {DEMO_READY} modules already live elsewhere are missing on web2" in question
    assert (tmp_path / "web2" / "Orders" / "CURRENT").is_file()
    qtbot.waitUntil(lambda: count(window, "ready") == "0", timeout=RUN_TIMEOUT_MS)
    assert count(window, "deployed") == str(DEMO_READY)
    assert not upgrades.deploy_action.isEnabled()
    assert "Nothing to deploy" in upgrades.deploy_action.toolTip()


def test_deploy_selected_follows_the_plan_after_a_front_end_is_enabled_again(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    add_frontend(qtbot, window, "web2", tmp_path / "web2")
    session = window.session
    wait_operation(
        qtbot,
        session,
        lambda: session.controller.quick(
            "Disable", "frontends", lambda: frontends.set_enabled(session.ctx, "web2", False), "disabled"
        ),
    )
    deploy_all(qtbot, window)  # default only: web2 is left out
    modules = window.modules
    modules.select("Orders")
    modules.update_actions()
    assert not modules.deploy_action.isEnabled()
    assert "already live on every enabled front-end" in modules.deploy_action.toolTip()

    wait_operation(
        qtbot,
        session,
        lambda: session.controller.quick(
            "Enable", "frontends", lambda: frontends.set_enabled(session.ctx, "web2", True), "enabled"
        ),
    )
    wait_planned(qtbot, session)
    modules.update_actions()
    assert modules.deploy_action.isEnabled(), modules.deploy_action.toolTip()

    result = wait_operation(qtbot, session, modules.deploy_action.trigger)

    assert result.result.ok
    progress = window.details.progress
    assert progress is not None and progress.kind == "deploy"
    assert {row.module: row.status for row in progress.rows} == {"Orders": "deployed"}
    assert (tmp_path / "web2" / "Orders" / "CURRENT").is_file()
