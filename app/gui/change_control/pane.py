"""The Change control pane: whether a change may start now (and if not, why and when), the saved
plans with their approvals and whether each still holds, and the weekly windows and freezes.

Approve and Revoke act on someone else's plan (the engine refuses one's own); Save plan writes the
same file as ``deploy-all --plan-out``; Run plan runs a plan exactly, as ``--plan`` does. Reading
the plans re-plans each one that has not run (a front-end may be a connection away), so the pane
loads on a job thread: when shown, after every run, and after each of its own changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, QTimer, Signal
from PySide6.QtGui import QAction, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.context import EnvironmentContext
from app.engine.control import plans as saved_plans
from app.engine.control import settings
from app.engine.control.document import PlanTarget
from app.engine.control.now import ChangeControlState
from app.engine.control.plans import PlanSummary
from app.engine.identity import utcnow
from app.engine.read import views
from app.engine.runs.options import RunOptions
from app.engine.vocabulary import RunKind
from app.gui.change_control.dialogs import AddFreezeDialog, AddWindowDialog
from app.gui.change_control.models import FreezesModel, PlansModel, WindowsModel
from app.gui.controller import OperationResult
from app.gui.jobs import JobResult
from app.gui.session import GuiSession
from app.gui.snapshot import Snapshot
from app.gui.table_model import SORT_ROLE, ColumnTableModel
from app.gui.widgets import PANE_MARGINS, FloatingMessageBar, table_view

PANE = "changes"
LOAD_JOB = "change control"
RECHECK_AT_MOST_S = 3600  # a timer set days ahead would miss a clock change of this machine


@dataclass(frozen=True)
class ChangeControlView:
    """Everything the pane shows, read in one go off the GUI thread."""

    state: ChangeControlState
    plans: tuple[PlanSummary, ...]
    windows: tuple[settings.WindowEntry, ...]
    freezes: tuple[settings.FreezeEntry, ...]
    me: str  # the identity this window approves as


def load_view(ctx: EnvironmentContext) -> ChangeControlView:
    status = views.status(ctx)
    assert status.change_control is not None
    return ChangeControlView(
        status.change_control,
        tuple(saved_plans.saved_plans(ctx)),
        tuple(settings.windows(ctx)),
        tuple(settings.freezes(ctx)),
        saved_plans.my_identity(ctx),
    )


def ask_plan_path(parent: QWidget) -> Path | None:
    chosen, _filter = QFileDialog.getSaveFileName(parent, "Save the plan", "deploy-all-plan.json", "Plans (*.json)")
    return Path(chosen) if chosen else None


def ask_comment(parent: QWidget, plan: str) -> str | None:
    text, ok = QInputDialog.getText(parent, "Approve plan", f"Approve plan {plan}. Comment (optional):")
    return text if ok else None


class ChangeControlPane(QWidget):
    deploy_started = Signal()  # a saved plan started running

    def __init__(self, session: GuiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.view: ChangeControlView | None = None
        self._load_again = False
        self.plans_model = PlansModel(self)
        self.windows_model = WindowsModel(self)
        self.freezes_model = FreezesModel(self)
        # What the dialogs ask, replaceable by tests (as the notifier's confirmer is).
        self.choose_plan_path: Callable[[], Path | None] = lambda: ask_plan_path(self)
        self.ask_comment: Callable[[str], str | None] = lambda plan: ask_comment(self, plan)
        self._recheck = QTimer(self)
        self._recheck.setSingleShot(True)
        self._recheck.timeout.connect(session.refresh)
        self._make_actions()
        self._build()
        session.snapshot_loaded.connect(self._on_snapshot)
        session.tracker.ended.connect(self._on_run_ended)
        session.controller.finished.connect(self._on_operation)
        self.update_actions()

    def _make_actions(self) -> None:
        def action(text: str, slot: Callable[[], Any], tip: str) -> QAction:
            made = QAction(text, self)
            made.setToolTip(tip)
            made.triggered.connect(slot)
            return made

        self.save_action = action(
            "&Save Deploy All plan…", self.request_save_plan, "Save what Deploy All would do now, for approval"
        )
        self.approve_action = action("&Approve…", self.request_approve, "Approve the selected plan")
        self.revoke_action = action("Re&voke", self.request_revoke, "Withdraw your approval of the selected plan")
        self.run_action = action("&Run plan", self.request_run, "Run the selected plan exactly, with its options")
        self.add_window_action = action("Add &window…", self.request_add_window, "Add a weekly change window")
        self.remove_window_action = action("Remove window", self.request_remove_window, "Remove the selected window")
        self.add_freeze_action = action("Add &freeze…", self.request_add_freeze, "Add a dated change freeze")
        self.remove_freeze_action = action("Remove freeze", self.request_remove_freeze, "Remove the selected freeze")
        self.refresh_action = action("Chec&k plans", self.load, "Re-plan every saved plan: does it still hold?")

    def _build(self) -> None:
        self.message_bar = FloatingMessageBar(self)
        self.summary = QLabel("Reading change control…")
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("Can a change start now")
        self.plans_table = self._table(self.plans_model, "Saved plans")
        self.windows_table = self._table(self.windows_model, "Change windows")
        self.freezes_table = self._table(self.freezes_model, "Change freezes")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PANE_MARGINS)
        layout.addWidget(self.message_bar.slot)  # kept for messages: they never push the rows down
        layout.addWidget(self.summary)
        for title, table, actions in (
            (
                "Saved &plans",
                self.plans_table,
                (self.save_action, self.approve_action, self.revoke_action, self.run_action, self.refresh_action),
            ),
            ("&Windows", self.windows_table, (self.add_window_action, self.remove_window_action)),
            ("&Freezes", self.freezes_table, (self.add_freeze_action, self.remove_freeze_action)),
        ):
            label = QLabel(title)
            label.setBuddy(table)
            row = QHBoxLayout()
            row.addWidget(label)
            for each in actions:
                button = QToolButton()
                button.setDefaultAction(each)
                row.addWidget(button)
            row.addStretch(1)
            layout.addLayout(row)
            layout.addWidget(table, 2 if table is self.plans_table else 1)

    def _table(self, model: ColumnTableModel[Any], name: str) -> QTableView:
        proxy = QSortFilterProxyModel(self)
        proxy.setSourceModel(model)
        proxy.setSortRole(SORT_ROLE)
        table = table_view(proxy, model, name)
        table.selectionModel().selectionChanged.connect(lambda *_: self.update_actions())
        return table

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.view is None:
            self.load()

    # -- reading ---------------------------------------------------------------------------------

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self._recheck_at(snapshot.status.change_control)
        if self.isVisible():
            self.load()

    def _recheck_at(self, state: ChangeControlState | None) -> None:
        """Nothing in the record changes when a window opens or a freeze ends: read the environment
        again then, so that Deploy's reason follows the clock."""
        self._recheck.stop()
        when = state.changes_at if state is not None else None
        if when is not None:
            wait = (when - utcnow()).total_seconds() + 1
            self._recheck.start(int(min(max(wait, 1), RECHECK_AT_MOST_S) * 1000))

    def _on_run_ended(self, *_args: object) -> None:
        if self.isVisible():
            self.load()

    def _on_operation(self, done: OperationResult) -> None:
        if done.operation.pane == PANE and not done.operation.makes_run:
            self.load()

    def load(self) -> None:
        if self.session.closed:
            return
        if self.session.jobs.running(LOAD_JOB):
            self._load_again = True
            return
        self._load_again = False
        self.session.jobs.submit(LOAD_JOB, lambda: load_view(self.session.ctx), self._loaded)

    def _loaded(self, result: JobResult) -> None:
        if not result.ok:
            self.session.notifier.error(f"Could not read change control: {result.error_text}", PANE)
        else:
            self.show_view(result.value)
        if self._load_again:
            self.load()

    def show_view(self, view: ChangeControlView) -> None:
        self.view = view
        self.plans_model.set_rows(list(view.plans))
        self.windows_model.set_rows(list(view.windows))
        self.freezes_model.set_rows(list(view.freezes))
        approvals = view.state.approvals_required
        sentences = (
            [f"Every planned run needs {approvals} approval(s) of its saved plan by others"] if approvals else []
        )
        sentences.append(view.state.why_not(planned=False) or "A change may start now")
        sentences.append(f"You approve as {view.me}")
        self.summary.setText(". ".join(sentences) + ".")
        self.update_actions()

    # -- selection -------------------------------------------------------------------------------

    def _selected(self, table: QTableView, model: ColumnTableModel[Any]) -> Any:
        rows = table.selectionModel().selectedRows()
        if not rows:
            return None
        proxy = table.model()
        assert isinstance(proxy, QSortFilterProxyModel)
        return model.rows[proxy.mapToSource(rows[0]).row()]

    def selected_plan(self) -> PlanSummary | None:
        found: PlanSummary | None = self._selected(self.plans_table, self.plans_model)
        return found

    def select_plan(self, plan_id: str) -> None:
        """Make a plan the selected row (keyboard users and tests)."""
        self._select(self.plans_table, [p.plan_id for p in self.plans_model.rows].index(plan_id))

    def _select(self, table: QTableView, number: int) -> None:
        proxy = table.model()
        assert isinstance(proxy, QSortFilterProxyModel)
        source = proxy.sourceModel()
        table.selectRow(proxy.mapFromSource(source.index(number, 0)).row())

    def update_actions(self) -> None:
        plan = self.selected_plan()
        me = self.view.me if self.view else ""
        open_plan = plan is not None and plan.run_id is None
        others = open_plan and plan is not None and plan.created_by != me
        self.approve_action.setEnabled(bool(others and plan and not plan.approved_by(me) and not plan.stale))
        self.revoke_action.setEnabled(bool(open_plan and plan and plan.approved_by(me)))
        self.run_action.setEnabled(bool(plan and plan.current and len(plan.approvals) >= plan.needed))
        self.remove_window_action.setEnabled(bool(self.windows_table.selectionModel().selectedRows()))
        self.remove_freeze_action.setEnabled(bool(self.freezes_table.selectionModel().selectedRows()))
        if plan is not None and plan.created_by == me and open_plan:
            self.approve_action.setToolTip("This is your plan: an approval must come from someone else")
        else:
            self.approve_action.setToolTip("Approve the selected plan")

    # -- acting ----------------------------------------------------------------------------------

    def _quick(self, name: str, call: Callable[[], Any], done: str) -> None:
        self.message_bar.hide()
        self.session.controller.quick(name, PANE, call, done)

    def request_save_plan(self) -> None:
        path = self.choose_plan_path()
        if path is not None:
            self.save_plan_to(path)

    def save_plan_to(self, path: Path, options: RunOptions | None = None) -> None:
        """The same plan, stored and written the same way, as ``deploy-all --plan-out``."""
        chosen = options or RunOptions()
        self._quick(
            "Save plan",
            lambda: saved_plans.save_plan(self.session.ctx, RunKind.DEPLOY_ALL, PlanTarget(), chosen, path),
            f"Deploy All plan saved to {path}: have it approved, then run it",
        )

    def request_approve(self) -> None:
        plan = self.selected_plan()
        if plan is None:
            return
        comment = self.ask_comment(plan.short_id)
        if comment is not None:
            self.approve(plan.plan_id, comment)

    def approve(self, plan_id: str, comment: str = "") -> None:
        ctx = self.session.ctx
        self._quick(
            "Approve plan",
            lambda: saved_plans.approve_plan(ctx, saved_plans.plan_document(ctx, plan_id), comment or None),
            f"Plan {plan_id[:12]} approved",
        )

    def request_revoke(self) -> None:
        plan = self.selected_plan()
        if plan is None:
            return
        ctx = self.session.ctx
        plan_id = plan.plan_id
        self._quick(
            "Revoke approval",
            lambda: saved_plans.revoke_approval(ctx, saved_plans.plan_document(ctx, plan_id)),
            f"Your approval of plan {plan.short_id} is withdrawn",
        )

    def request_run(self) -> None:
        plan = self.selected_plan()
        if plan is None:
            return
        question = (
            f"Run plan {plan.short_id} ({plan.kind.traits.label} of {plan.target}, {plan.changes} change(s))? "
            "It runs exactly as approved; if anything changed since, it is refused and nothing runs."
        )
        if self.session.notifier.confirm("Run plan", question, "Run"):
            self.message_bar.hide()
            document = saved_plans.plan_document(self.session.ctx, plan.plan_id)
            self.session.controller.run_plan(document, PANE)
            self.deploy_started.emit()

    def request_add_window(self) -> None:
        dialog = AddWindowDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.add_window(*dialog.values())

    def add_window(self, start: str, hours: float, zone: str) -> None:
        self._quick(
            "Add window",
            lambda: settings.add_window(self.session.ctx, start, hours, zone or None),
            f"Window {start} for {hours:g} h ({zone}) added",
        )

    def request_remove_window(self) -> None:
        entry: settings.WindowEntry | None = self._selected(self.windows_table, self.windows_model)
        if entry is not None:
            window_id = entry.window.id
            self._quick(
                "Remove window",
                lambda: settings.remove_window(self.session.ctx, window_id),
                f"Window {window_id} removed",
            )

    def request_add_freeze(self) -> None:
        dialog = AddFreezeDialog(self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.add_freeze(*dialog.values())

    def add_freeze(self, starts: str, ends: str, zone: str, reason: str | None) -> None:
        self._quick(
            "Add freeze",
            lambda: settings.add_freeze(self.session.ctx, starts, ends, zone or None, reason),
            f"Freeze from {starts} until {ends} ({zone}) added",
        )

    def request_remove_freeze(self) -> None:
        entry: settings.FreezeEntry | None = self._selected(self.freezes_table, self.freezes_model)
        if entry is not None:
            freeze_id = entry.freeze.id
            self._quick(
                "Remove freeze",
                lambda: settings.remove_freeze(self.session.ctx, freeze_id),
                f"Freeze {freeze_id} removed",
            )
