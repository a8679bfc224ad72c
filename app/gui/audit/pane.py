"""The Audit pane: the audit log with a filter and Verify, the webhooks with their last deliveries,
and Copy metrics.

Everything here is read on job threads: the log, webhooks and deliveries together when the pane
is shown, after each change to the environment and when the filter changes; the chain's check
(which reads the whole log) and the metrics when asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QSplitter, QToolButton, QVBoxLayout, QWidget

from app.engine.audit import AuditEntry, audit_entries
from app.engine.audit_chain import ChainReport
from app.engine.context import EnvironmentContext
from app.engine.webhooks.admin import Delivery, Webhook, deliveries, list_webhooks
from app.gui.jobs import JobResult
from app.gui.session import GuiSession
from app.gui.table_model import Column, ColumnTableModel
from app.gui.widgets import PANE_MARGINS, FloatingMessageBar, Throttle, table_view

PANE = "audit"
LOAD_JOB = "audit"
VERIFY_JOB = "audit-verify"
METRICS_JOB = "metrics"
ENTRIES_SHOWN = 500
DELIVERIES_SHOWN = 100
FILTER_DELAY_MS = 300
OK_STYLE = "color:#1b5e20;"
BROKEN_STYLE = "color:#b71c1c; font-weight:bold;"


def _when(value: object) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value is not None else ""


class AuditModel(ColumnTableModel[AuditEntry]):
    columns = (
        Column("Id", lambda e: str(e.id), sort=lambda e: e.id, numeric=True, width=50),
        Column("When (UTC)", lambda e: _when(e.at), width=130),
        Column("Who", lambda e: e.who, width=120),
        Column("Operation", lambda e: e.operation, width=110),
        Column("Target", lambda e: e.target, width=120),
        Column("Result", lambda e: e.result, width=70),
        Column("Detail", lambda e: e.detail or "", tooltip=lambda e: e.detail or "", width=300),
    )


class WebhooksModel(ColumnTableModel[Webhook]):
    columns = (
        Column("Id", lambda h: str(h.id), sort=lambda h: h.id, numeric=True, width=40),
        Column("URL", lambda h: h.url, width=260),
        Column("Events", lambda h: "all" if h.every_event else ", ".join(h.events), width=150),
        Column("Signed", lambda h: "yes" if h.signed else "no", width=50),
        Column(
            "Last delivery",
            lambda h: "" if h.last is None else f"{h.last.event} {h.last.state} {h.last.result or ''}".strip(),
            width=200,
        ),
    )


class DeliveriesModel(ColumnTableModel[Delivery]):
    columns = (
        Column("Webhook", lambda d: str(d.webhook_id), sort=lambda d: d.webhook_id, numeric=True, width=60),
        Column("Event", lambda d: d.event, width=100),
        Column("State", lambda d: d.state, width=70),
        Column("Tries", lambda d: str(d.attempts), sort=lambda d: d.attempts, numeric=True, width=40),
        Column("Last try (UTC)", lambda d: _when(d.last_try_at), width=130),
        Column("Result", lambda d: d.last_result or "", width=120),
        Column("Next try (UTC)", lambda d: _when(d.next_try_at), width=130),
        Column("Event id", lambda d: d.event_id, width=260),
    )


@dataclass(frozen=True)
class AuditView:
    """What the pane shows, read in one job."""

    entries: list[AuditEntry]
    webhooks: list[Webhook]
    deliveries: list[Delivery]


def load_view(ctx: EnvironmentContext, search: str) -> AuditView:
    return AuditView(
        audit_entries(ctx, ENTRIES_SHOWN, search=search or None),
        list_webhooks(ctx),
        deliveries(ctx, DELIVERIES_SHOWN),
    )


def verify_text(report: ChainReport) -> str:
    if report.ok:
        head = str(report.head) if report.head is not None else "none (the log is empty)"
        return f"The chain holds: {report.entries} entries, none changed, removed or moved. Head: {head}"
    return f"The chain is broken: {report.problem}."


class AuditPane(QWidget):
    def __init__(self, session: GuiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.entries_model = AuditModel(self)
        self.webhooks_model = WebhooksModel(self)
        self.deliveries_model = DeliveriesModel(self)
        self.view: AuditView | None = None
        self.report: ChainReport | None = None
        self._load_again = False
        self.verify_action = QAction("&Verify", self)
        self.verify_action.setToolTip("Check the audit log's hash chain from its first entry to its last")
        self.verify_action.triggered.connect(self.verify)
        self.copy_metrics_action = QAction("Copy &metrics", self)
        self.copy_metrics_action.setToolTip("Copy the metrics, in Prometheus' text format, to the clipboard")
        self.copy_metrics_action.triggered.connect(self.copy_metrics)
        self._filter_throttle = Throttle(FILTER_DELAY_MS, self.load, self)
        self._build()
        session.snapshot_loaded.connect(self._on_snapshot)

    def _build(self) -> None:
        self.message_bar = FloatingMessageBar(self)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: who, operation, target, result or detail")
        self.filter_edit.setAccessibleName("Audit filter")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(lambda _text: self._filter_throttle.poke())
        self.verify_result = QLabel("Verify checks that no entry was changed, removed or moved.")
        self.verify_result.setWordWrap(True)
        self.verify_result.setAccessibleName("Audit verification")
        self.verify_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 1)
        for action in (self.verify_action, self.copy_metrics_action):
            button = QToolButton()
            button.setDefaultAction(action)
            top.addWidget(button)
        self.entries_table = table_view(self.entries_model, self.entries_model, "Audit log")
        self.webhooks_table = table_view(self.webhooks_model, self.webhooks_model, "Webhooks")
        self.deliveries_table = table_view(self.deliveries_model, self.deliveries_model, "Webhook deliveries")
        hooks = QWidget()
        hooks_layout = QVBoxLayout(hooks)
        hooks_layout.setContentsMargins(0, 0, 0, 0)
        hooks_layout.addWidget(QLabel("Webhooks (add and remove them with deploycenter --unattended webhook)"))
        hooks_layout.addWidget(self.webhooks_table, 1)
        hooks_layout.addWidget(QLabel("Last deliveries"))
        hooks_layout.addWidget(self.deliveries_table, 2)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.entries_table)
        self.splitter.addWidget(hooks)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PANE_MARGINS)
        layout.addWidget(self.message_bar.slot)  # kept for messages: they never push the rows down
        layout.addLayout(top)
        layout.addWidget(self.verify_result)
        layout.addWidget(self.splitter, 1)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.view is None:
            self.load()

    def _on_snapshot(self, _snapshot: object) -> None:
        if self.isVisible():
            self.load()

    # -- reading ------------------------------------------------------------------------------

    def load(self) -> None:
        if self.session.closed:
            return
        if self.session.jobs.running(LOAD_JOB):
            self._load_again = True
            return
        self._load_again = False
        search = self.filter_edit.text().strip()
        self.session.jobs.submit(LOAD_JOB, lambda: load_view(self.session.ctx, search), self._loaded)

    def _loaded(self, result: JobResult) -> None:
        if not result.ok:
            self.session.notifier.error(f"Could not read the audit log: {result.error_text}", PANE)
        else:
            self.show_view(result.value)
        if self._load_again:
            self.load()

    def show_view(self, view: AuditView) -> None:
        self.view = view
        self.entries_model.set_rows(view.entries)
        self.webhooks_model.set_rows(view.webhooks)
        self.deliveries_model.set_rows(view.deliveries)

    # -- actions ------------------------------------------------------------------------------

    def verify(self) -> None:
        if self.session.closed or self.session.jobs.running(VERIFY_JOB):
            return
        from app.engine.read.audit_log import verify_log

        self.verify_action.setEnabled(False)
        self.verify_result.setText("Verifying the audit log…")
        self.verify_result.setStyleSheet("")
        self.session.jobs.submit(VERIFY_JOB, lambda: verify_log(self.session.ctx), self._verified)

    def _verified(self, result: JobResult) -> None:
        self.verify_action.setEnabled(True)
        if not result.ok:
            self.verify_result.setText("")
            self.session.notifier.error(f"Could not verify the audit log: {result.error_text}", PANE)
            return
        self.report = result.value
        assert isinstance(self.report, ChainReport)
        self.verify_result.setText(verify_text(self.report))
        self.verify_result.setStyleSheet(OK_STYLE if self.report.ok else BROKEN_STYLE)

    def copy_metrics(self) -> None:
        if self.session.closed or self.session.jobs.running(METRICS_JOB):
            return
        from app.engine.metrics import exposition

        self.session.jobs.submit(METRICS_JOB, lambda: exposition(self.session.ctx).decode("utf-8"), self._metrics_read)

    def _metrics_read(self, result: JobResult) -> None:
        if not result.ok:
            self.session.notifier.error(f"Could not read the metrics: {result.error_text}", PANE)
            return
        QGuiApplication.clipboard().setText(result.value)
        self.session.notifier.info("Metrics copied to the clipboard, in Prometheus' text format", PANE)
