"""The Modules pane: filters, and Publish, Apply configurations, Delete and Deploy on the selection."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from app.engine.read import views
from app.gui.filters import IN_A_RUN
from app.gui.main_window import MainWindow
from app.gui.modules.config_dialog import ConfigDialog, looks_secret
from app.paths import resource
from tests.bundles import write_bundle
from tests.gui.conftest import Answers, module_entry, wait_operation, wait_refreshed


def shown_names(window: MainWindow) -> list[str]:
    pane = window.modules
    return [pane.proxy.entry(row).name for row in range(pane.proxy.rowCount())]


def test_text_and_state_filters(qtbot: QtBot, window: MainWindow) -> None:
    pane = window.modules
    QTest.keyClicks(pane.filter_edit, "logist")
    assert len(shown_names(window)) == 7
    pane.state_filter.setCurrentIndex(pane.state_filter.findData("compilation-failed"))
    assert sorted(shown_names(window)) == ["CarrierGateway", "ReturnsDesk", "Tracking", "VendorCatalogSync"]
    qtbot.waitUntil(lambda: pane.shown.text() == "4 of 30 modules")


def test_selection_decides_what_is_enabled(window: MainWindow) -> None:
    pane = window.modules
    pane.select()
    assert pane.publish_action.isEnabled() and not pane.apply_action.isEnabled()
    assert not pane.deploy_action.isEnabled()
    pane.select("Orders", "Quotes")
    assert pane.deploy_action.isEnabled() and not pane.delete_action.isEnabled()
    pane.select("Recruiting")
    assert not pane.deploy_action.isEnabled()
    assert "ready" in pane.deploy_action.toolTip()


def test_secret_looking_values_are_masked(qtbot: QtBot) -> None:
    dialog = ConfigDialog("Notifications", {"SmtpPassword": "x", "SmtpHost": "mail", "ApiToken": "t"})
    qtbot.addWidget(dialog)
    modes = {key: editor.echoMode() for key, editor in dialog.editors.items()}
    assert modes["SmtpPassword"] == modes["ApiToken"] == QLineEdit.EchoMode.Password
    assert modes["SmtpHost"] == QLineEdit.EchoMode.Normal
    dialog.reveal.setChecked(True)
    assert dialog.editors["SmtpPassword"].echoMode() == QLineEdit.EchoMode.Normal
    dialog.editors["SmtpHost"].setText("smtp.example")
    assert dialog.changed_values() == {"SmtpHost": "smtp.example"}
    assert looks_secret("PrivateKey") and not looks_secret("MaxRows")


def test_apply_configurations(qtbot: QtBot, window: MainWindow) -> None:
    key, _ = next(iter(views.module_config(window.session.ctx, "Orders").items()))
    result = wait_operation(qtbot, window.session, lambda: window.modules.apply_config("Orders", {key: "42"}))
    assert result.result.ok
    assert views.module_config(window.session.ctx, "Orders")[key] == "42"
    assert window.session.notifier.messages[-1].text.startswith("Configuration of Orders applied")


def test_an_unknown_key_is_reported_in_the_pane(qtbot: QtBot, window: MainWindow) -> None:
    wait_operation(qtbot, window.session, lambda: window.modules.apply_config("Orders", {"Nope": "1"}))
    assert "has no configuration key Nope" in window.modules.message_bar.text


def test_delete_asks_first(qtbot: QtBot, window: MainWindow, answers: Answers) -> None:
    window.modules.select("Quotes")
    wait_operation(qtbot, window.session, window.modules.delete_action.trigger)
    assert "Delete module Quotes?" in answers.questions[-1].text
    qtbot.waitUntil(lambda: window.modules.model.entry("Quotes") is None)
    assert window.modules.model.rowCount() == 29


def test_publish_a_new_version_from_a_module_toml(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "bundles", "Gadgets", application="Sales")
    result = wait_operation(qtbot, window.session, lambda: window.modules.publish([folder / "module.toml"]))
    assert result.result.ok and result.result.value.status == "succeeded"
    wait_refreshed(qtbot, window.session)
    entry = window.modules.model.entry("Gadgets")
    assert entry is not None and entry.state == "deployed"


def test_publishing_a_bad_bundle_is_reported_not_raised(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    wait_operation(qtbot, window.session, lambda: window.modules.publish([tmp_path / "empty"]))
    assert "module.toml" in window.modules.message_bar.text


def test_deploy_selected_modules(qtbot: QtBot, window: MainWindow) -> None:
    window.modules.select("Common", "Recruiting")
    result = wait_operation(qtbot, window.session, window.modules.deploy_action.trigger)
    assert result.result.value.kind == "deploy"
    assert {row.module: row.status for row in window.details.model.rows} == {"Common": "deployed"}
    assert resource("demo").is_dir()


def test_a_new_attempt_clears_the_last_refusal(qtbot: QtBot, window: MainWindow) -> None:
    wait_operation(qtbot, window.session, lambda: window.modules.apply_config("Orders", {"Nope": "1"}))
    assert window.modules.message_bar.text
    key = next(iter(views.module_config(window.session.ctx, "Orders")))
    wait_operation(qtbot, window.session, lambda: window.modules.apply_config("Orders", {key: "7"}))
    assert not window.modules.message_bar.text


def test_sorting_by_a_header_keeps_the_selection_and_the_name_index(qtbot: QtBot, window: MainWindow) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QAbstractItemModelTester

    pane = window.modules
    QAbstractItemModelTester(pane.proxy, QAbstractItemModelTester.FailureReportingMode.Warning)
    pane.select("Orders")
    pane.table.sortByColumn(pane.model.column_index("Module"), Qt.SortOrder.DescendingOrder)
    names = shown_names(window)
    assert names == sorted(names, reverse=True)
    assert [e.name for e in pane.selected()] == ["Orders"], "the selection follows its row"
    entry = pane.model.entry("Orders")
    assert entry is not None and entry.name == "Orders"
    pane.table.sortByColumn(pane.model.column_index("Application"), Qt.SortOrder.AscendingOrder)
    applications = [module_entry(pane.model, n).application for n in shown_names(window)]
    assert applications == sorted(applications)
    wait_refreshed(qtbot, window.session)  # a reload keeps the chosen order
    assert [module_entry(pane.model, n).application for n in shown_names(window)] == sorted(applications)


def choose_state(window: MainWindow, state: str) -> None:
    pane = window.modules
    pane.state_filter.setCurrentIndex(pane.state_filter.findData(state))


def test_the_count_says_how_many_of_all_modules_are_shown(qtbot: QtBot, window: MainWindow) -> None:
    pane = window.modules
    qtbot.waitUntil(lambda: pane.shown.text() == "30 modules")
    choose_state(window, "ready")
    QTest.keyClicks(pane.filter_edit, "sales")
    qtbot.waitUntil(lambda: pane.shown.text() == "6 of 30 modules")
    pane.model.mark_deployed("Orders", 1, "11.19.0")  # no longer ready: leaves the table at once
    assert "Orders" not in shown_names(window)
    qtbot.waitUntil(lambda: pane.shown.text() == "5 of 30 modules")
    pane.filter_edit.clear()
    choose_state(window, "")
    qtbot.waitUntil(lambda: pane.shown.text() == "30 modules")


def test_held_by_an_active_run_is_a_state_choice(qtbot: QtBot, window: MainWindow) -> None:
    pane = window.modules
    choose_state(window, IN_A_RUN)
    assert pane.state_filter.currentText() == "Held by an active run"
    assert shown_names(window) == []
    pane.model.lock(["Orders", "Payroll"], 9)
    assert sorted(shown_names(window)) == ["Orders", "Payroll"]
    qtbot.waitUntil(lambda: pane.shown.text() == "2 of 30 modules")
    pane.model.unlock_run(9)
    assert shown_names(window) == []


def test_selecting_by_name_goes_through_the_filter(qtbot: QtBot, window: MainWindow) -> None:
    pane = window.modules
    pane.filter_edit.setText("sales")
    pane.select("Quotes", "Orders", "Payroll")  # Payroll is filtered out
    assert sorted(e.name for e in pane.selected()) == ["Orders", "Quotes"]
    pane.filter_edit.setText("ord")  # Quotes leaves; Orders stays selected
    assert [e.name for e in pane.selected()] == ["Orders"]
    qtbot.waitUntil(pane.apply_action.isEnabled)  # one module selected now


def test_the_upgrades_counts_ignore_the_modules_filter(qtbot: QtBot, window: MainWindow) -> None:
    pane, counts = window.modules, window.upgrades.counts
    choose_state(window, "compilation-failed")
    assert len(shown_names(window)) == 6
    pane.model.mark_deployed("Orders", 1, "11.19.0")  # not shown in the Modules pane
    qtbot.waitUntil(lambda: counts["deployed"].value.text() == "1")
    assert (counts["total"].value.text(), counts["ready"].value.text()) == ("30", "23")
