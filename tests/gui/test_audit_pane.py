"""The Audit pane: the log with its filter, Verify and what it found, the webhooks with their last
deliveries, and Copy metrics, all read on job threads."""

from __future__ import annotations

import sqlite3
from contextlib import closing

from prometheus_client.parser import text_string_to_metric_families
from PySide6.QtGui import QGuiApplication
from PySide6.QtTest import QAbstractItemModelTester
from pytestqt.qtbot import QtBot
from pytestqt.wait_signal import SignalBlocker

from app.engine.store.database import DATABASE_FILE
from app.engine.webhooks.admin import add_webhook
from app.engine.webhooks.outbox import WebhookEvent, enqueue
from app.gui.audit.pane import LOAD_JOB, METRICS_JOB, VERIFY_JOB, AuditPane
from app.gui.jobs import JobResult
from app.gui.main_window import PANES, MainWindow
from tests.gui.conftest import RUN_TIMEOUT_MS

AUDIT = PANES.index("audit")


def wait_job(qtbot: QtBot, window: MainWindow, name: str) -> SignalBlocker:
    def is_it(result: JobResult) -> bool:
        return result.name == name

    return qtbot.waitSignal(window.session.jobs.finished, timeout=RUN_TIMEOUT_MS, check_params_cb=is_it)


def shown(qtbot: QtBot, window: MainWindow) -> AuditPane:
    with wait_job(qtbot, window, LOAD_JOB):
        window.show_pane(AUDIT)
    return window.audit


def test_the_models_pass_qt_checks(qtbot: QtBot, window: MainWindow) -> None:
    pane = shown(qtbot, window)
    for model in (pane.entries_model, pane.webhooks_model, pane.deliveries_model):
        QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    assert pane.entries_model.rows and pane.entries_model.rows[0].id > pane.entries_model.rows[-1].id


def test_the_filter_keeps_the_entries_that_hold_its_text(qtbot: QtBot, window: MainWindow) -> None:
    pane = shown(qtbot, window)
    operations = {entry.operation for entry in pane.entries_model.rows}
    assert {"init", "publish", "upgrade"} <= operations
    with wait_job(qtbot, window, LOAD_JOB):
        pane.filter_edit.setText("UPGRADE")
    assert pane.entries_model.rows
    assert all("upgrade" in f"{e.operation} {e.target} {e.detail}".lower() for e in pane.entries_model.rows)


def test_verify_shows_whether_the_chain_holds_and_where_it_broke(qtbot: QtBot, window: MainWindow) -> None:
    pane = shown(qtbot, window)
    with wait_job(qtbot, window, VERIFY_JOB):
        pane.verify_action.trigger()
    assert pane.report is not None and pane.report.ok
    assert pane.verify_result.text().startswith("The chain holds") and "Head: " in pane.verify_result.text()
    with closing(sqlite3.connect(window.session.ctx.data_dir / DATABASE_FILE)) as connection:
        connection.execute("UPDATE audit_log SET detail = 'nothing happened' WHERE id = 2")
        connection.commit()
    with wait_job(qtbot, window, VERIFY_JOB):
        pane.verify_action.trigger()
    assert "The chain is broken: entry 2 was changed" in pane.verify_result.text()


def test_webhooks_are_shown_with_their_last_deliveries(qtbot: QtBot, window: MainWindow) -> None:
    ctx = window.session.ctx
    add_webhook(ctx, "http://127.0.0.1:9/hook?token=s3cret")
    with ctx.db.write() as session:
        enqueue(session, WebhookEvent.EMERGENCY, {"run": 1, "reason": "test"})
    pane = shown(qtbot, window)
    (hook,) = pane.webhooks_model.rows
    assert hook.url == "http://127.0.0.1:9/hook?token=***"
    (delivery,) = pane.deliveries_model.rows
    assert (delivery.event, delivery.state) == ("emergency", "pending")
    # The window's own sender tries it (nothing listens on port 9): the pane shows how it went.
    qtbot.waitUntil(lambda: _tried(qtbot, window, pane), timeout=RUN_TIMEOUT_MS)
    assert pane.deliveries_model.rows[0].last_result


def _tried(qtbot: QtBot, window: MainWindow, pane: AuditPane) -> bool:
    with wait_job(qtbot, window, LOAD_JOB):
        pane.load()
    return pane.deliveries_model.rows[0].attempts > 0


def test_copy_metrics_puts_the_exposition_on_the_clipboard(qtbot: QtBot, window: MainWindow) -> None:
    pane = shown(qtbot, window)
    with wait_job(qtbot, window, METRICS_JOB):
        pane.copy_metrics_action.trigger()
    text = QGuiApplication.clipboard().text()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"deploycenter_runs", "deploycenter_modules", "deploycenter_audit_last_entry_id"} <= names
    assert "Metrics copied" in pane.message_bar.text
