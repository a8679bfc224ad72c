"""The Modules pane: every module, filterable, and the actions on the selected ones.

Actions are disabled for a module an active run holds (whoever started the run); when the
engine refuses anyway (a run that started a moment ago), its message shows in the bar on top.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from app.engine.errors import DeployCenterError
from app.engine.read import views
from app.engine.read.farm import farm_state
from app.engine.vocabulary import ItemStatus, RunKind
from app.gui.filters import ANY_STATE, DRIFT, IN_A_RUN, ModuleFilter
from app.gui.formatting import ROLLED_BACK, SKIP_REASON_ONE, STATE_LABELS, count_text, describe_run, plural
from app.gui.jobs import JobResult
from app.gui.lifecycle import request_rollback
from app.gui.modules.bundle_dialog import BundleDialog
from app.gui.modules.config_dialog import ConfigDialog
from app.gui.modules.model import ModuleEntry, ModulesModel
from app.gui.run_progress import RunProgress, RunUpdate
from app.gui.session import GuiSession
from app.gui.snapshot import Snapshot
from app.gui.upgrades.pane import action_button
from app.gui.widgets import PANE_MARGINS, FloatingMessageBar, RefusalShortcuts, table_view

PANE = "modules"
UPDATE_DELAY_MS = 50
DRIFT_JOB = "modules drift"
DRIFT_INTERVAL_S = 15.0  # the farm is read at most this often for the drift marks


class ModulesPane(QWidget):
    def __init__(self, session: GuiSession, model: ModulesModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.model = model
        self.proxy = ModuleFilter(model, self)
        self.platform = ""
        self._drift_again = False
        self._drift_read_at = -DRIFT_INTERVAL_S
        self._drift_soon = QTimer(self)
        self._drift_soon.setSingleShot(True)
        self._drift_soon.timeout.connect(self.check_drift)
        self._make_actions()
        self._build()
        session.snapshot_loaded.connect(self._on_snapshot)
        session.watcher.locks_changed.connect(model.set_locks)
        session.tracker.started.connect(self._on_run_started)
        session.tracker.updated.connect(self._on_run_updated)
        session.tracker.ended.connect(self._on_run_ended)
        session.tracker.ticked.connect(self._show_moved)
        self._moved: dict[int, set[int]] = {}  # rows of each run that moved since the last tick
        session.controller.busy_changed.connect(self.update_actions)
        # Model changes come in bursts during a run: re-evaluate the actions once per burst.
        self._update_soon = QTimer(self)
        self._update_soon.setSingleShot(True)
        self._update_soon.setInterval(UPDATE_DELAY_MS)
        self._update_soon.timeout.connect(self.update_actions)
        for signal in (
            model.dataChanged,
            model.modelReset,
            self.proxy.layoutChanged,
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
            self.proxy.modelReset,
        ):
            signal.connect(self._update_soon.start)
        self.update_actions()

    def _make_actions(self) -> None:
        def action(text: str, shortcut: str, slot: object) -> QAction:
            made = QAction(text, self)
            made.setShortcut(QKeySequence(shortcut))
            made.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            made.triggered.connect(slot)
            self.addAction(made)
            return made

        self.publish_action = action("&Publish new version…", "Ctrl+P", self.request_publish)
        self.publish_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.publish_action.setIconText("Publish…")
        self.apply_action = action("&Apply configurations…", "Ctrl+E", self.request_apply_config)
        self.delete_action = action("De&lete…", "Del", self.request_delete)
        self.deploy_action = action("Deplo&y selected", "Ctrl+Shift+D", self.request_deploy)
        self.rollback_action = action("Roll &back selected…", "Ctrl+Shift+B", self.request_rollback)
        self.rollback_action.setIconText("Roll back…")
        self.solution_action = action("Publish s&olution for selected…", "", self.request_publish_solution)
        self.solution_action.setIconText("Publish solution…")
        self.refusals = RefusalShortcuts(self, self.session.notifier, PANE, self._holding_run)
        self.refusals.watch(
            self.publish_action,
            self.apply_action,
            self.delete_action,
            self.deploy_action,
            self.rollback_action,
            self.solution_action,
        )

    def _build(self) -> None:
        self.message_bar = FloatingMessageBar(self)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by module or application")
        self.filter_edit.setAccessibleName("Filter modules")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.state_filter = QComboBox()
        self.state_filter.setAccessibleName("Filter by state")
        self.state_filter.addItem("All states", ANY_STATE)
        for state, label in STATE_LABELS.items():
            self.state_filter.addItem(label, state)
        self.state_filter.addItem("Held by an active run", IN_A_RUN)
        self.state_filter.addItem("Front-ends disagree", DRIFT)
        self.state_filter.currentIndexChanged.connect(lambda: self.proxy.set_state(self.state_filter.currentData()))
        self.shown = QLabel()
        filter_label = QLabel("&Filter:")
        filter_label.setBuddy(self.filter_edit)
        row = QHBoxLayout()
        row.addWidget(filter_label)
        row.addWidget(self.filter_edit, 2)
        row.addWidget(self.state_filter, 1)
        row.addWidget(self.shown)
        self.table = table_view(self.proxy, self.model, "Modules")
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.selectionModel().selectionChanged.connect(self.update_actions)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        buttons = QHBoxLayout()
        for act in self.module_actions():
            buttons.addWidget(action_button(act))
        self.why_label = QLabel()  # why the actions on the selection are off, said on screen
        self.why_label.setAccessibleName("Why actions are unavailable")
        self.why_label.setWordWrap(True)
        buttons.addWidget(self.why_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PANE_MARGINS)
        layout.addWidget(self.message_bar.slot)  # kept for messages: they never push the rows down
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def module_actions(self) -> tuple[QAction, ...]:
        return (
            self.publish_action,
            self.apply_action,
            self.delete_action,
            self.deploy_action,
            self.rollback_action,
            self.solution_action,
        )

    def focus_search(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    # -- keeping up ---------------------------------------------------------------------------

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        self.platform = snapshot.status.platform_version  # the window has loaded the model already
        # Reading the farm costs I/O on every front-end: not while a run moves modules (the end
        # of the run brings another snapshot), and at most once every DRIFT_INTERVAL_MS.
        if self.session.tracker.active():
            return
        wait = self._drift_read_at + DRIFT_INTERVAL_S - time.monotonic()
        if wait <= 0:
            self.check_drift()
        elif not self._drift_soon.isActive():
            self._drift_soon.start(int(wait * 1000) + 1)

    def check_drift(self) -> None:
        """Read every front-end on a job thread (never here: a remote one can take seconds)."""
        if self.session.closed:
            return
        if self.session.jobs.running(DRIFT_JOB):
            self._drift_again = True  # the farm changed since that read began: read it once more after
            return
        self._drift_again = False
        self._drift_read_at = -DRIFT_INTERVAL_S
        self._drift_soon = QTimer(self)
        self._drift_soon.setSingleShot(True)
        self._drift_soon.timeout.connect(self.check_drift)
        self._drift_read_at = time.monotonic()
        self.session.jobs.submit(DRIFT_JOB, lambda: farm_state(self.session.ctx).disagreeing, self._drift_read)

    def _drift_read(self, result: JobResult) -> None:
        if self.session.closed:
            return
        if result.ok:
            self.model.set_drift(result.value)
            self.update_actions()
        # A front-end that cannot be read is the Front-ends pane's to say; drift stays as last known.
        if self._drift_again:
            self.check_drift()

    def _on_run_started(self, progress: RunProgress) -> None:
        self.model.lock_keys(progress.held, progress.run_id)

    def _on_run_updated(self, update: RunUpdate) -> None:
        self._moved.setdefault(update.run_id, set()).update(update.rows)  # shown at the tracker's tick

    def _show_moved(self) -> None:
        moved, self._moved = self._moved, {}
        for run_id, numbers in moved.items():
            progress = self.session.tracker.runs.get(run_id)
            if progress is None or not numbers:
                continue
            rows = progress.rows
            rollback = progress.kind == RunKind.ROLLBACK  # its "deployed" modules went back a release
            changes = (
                (
                    rows[n].module,
                    ROLLED_BACK if rollback and rows[n].status == ItemStatus.DEPLOYED else rows[n].status,
                    rows[n].version,
                )
                for n in numbers
            )
            self.model.note_run_status(run_id, changes, self.platform if progress.deploys else "")

    def _on_run_ended(self, progress: RunProgress) -> None:
        self._show_moved()
        self.model.unlock_run(progress.run_id)

    def selected(self) -> list[ModuleEntry]:
        rows = self.table.selectionModel().selectedRows()
        return [self.proxy.entry(index.row()) for index in rows]

    def select(self, *names: str) -> None:
        """Select modules by name (keyboard users and tests)."""
        self.table.clearSelection()
        flags = self.table.selectionModel().SelectionFlag
        for name in names:
            number = self.model.row_of(name)
            if number is None:
                continue
            index = self.proxy.mapFromSource(self.model.index(number, 0))
            self.table.selectionModel().select(index, flags.Select | flags.Rows)

    def _held_text(self, entry: ModuleEntry) -> str:
        """Why the module is held, naming the run as the command line does: who started it and when."""
        run = self.session.tracker.runs.get(entry.locked_by_run) if entry.locked_by_run is not None else None
        if run is None:  # a run of another process the window has not followed yet
            return f"{entry.name} is held by run {entry.locked_by_run}, which is in progress"
        return f"{entry.name} is held by {describe_run(run)}, which is in progress"

    def _holding_run(self) -> int | None:
        """The run holding a selected module, which a refusal of this pane's actions is about."""
        return next((e.locked_by_run for e in self.selected() if e.locked_by_run is not None), None)

    def update_actions(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        text = plural(total, "module") if shown == total else f"{count_text(shown)} of {count_text(total)} modules"
        drift = self.model.drift_count()
        self.shown.setText(text + (f" · {count_text(drift)} where the front-ends disagree" if drift else ""))
        self.shown.setToolTip("Filter by state: “Front-ends disagree” lists them" if drift else "")
        selected = self.selected()
        held = next((e for e in selected if e.locked_by_run is not None), None)
        lock = self._held_text(held) if held else None
        self.why_label.setText(f"{lock}: Publish, Apply configurations and Delete wait until it ends." if lock else "")
        one = None if len(selected) == 1 else "Select one module"
        some = None if selected else "Select one or more modules"
        ready = self._why_not_deployable(selected)
        self._enable(self.publish_action, lock, "Publish a new version of a module from a bundle folder or .zip")
        self._enable(self.apply_action, lock or one, "Edit and apply the selected module's configuration values")
        self._enable(self.delete_action, lock or one, "Remove the selected module from the environment")
        self._enable(
            self.deploy_action, lock or some or ready, "Deploy the selected modules that Deploy All would deploy"
        )
        deployed = (
            None
            if any(e.deployed_version is not None for e in selected)
            else "None of the selected modules is deployed"
        )
        self._enable(
            self.rollback_action,
            lock or some or deployed,
            "Take the selected modules back one release, on every front-end",
        )
        self._enable(
            self.solution_action,
            lock or some,
            "Recompile the selected modules from their stored sources and deploy them, even if deployed",
        )

    def _why_not_deployable(self, selected: list[ModuleEntry]) -> str | None:
        """Deploy selected deploys what Deploy All's plan would deploy of the selection, nothing else."""
        if not selected or any(entry.planned for entry in selected):
            return None
        if not self.model.plan_known:
            return "Reading what Deploy All would do…"
        first = selected[0]
        why = SKIP_REASON_ONE.get(first.plan.action, first.plan.action) if first.plan is not None else "unknown"
        one = f"{first.name}: {why}" + (f" and {count_text(len(selected) - 1)} more" if len(selected) > 1 else "")
        return f"None of the selected modules is ready to deploy: Deploy All leaves them as they are ({one})"

    @staticmethod
    def _enable(action: QAction, reason: str | None, tip: str) -> None:
        action.setEnabled(reason is None)
        action.setToolTip(reason or tip)

    def _context_menu(self, at: QPoint) -> None:
        menu = QMenu(self)
        for act in self.module_actions():
            menu.addAction(act)
        menu.exec(self.table.viewport().mapToGlobal(at))

    # -- acting -------------------------------------------------------------------------------

    def request_publish(self) -> None:
        dialog = BundleDialog(self)
        if dialog.exec() and dialog.chosen():
            self.publish(dialog.chosen())

    def publish(self, paths: list[Path]) -> None:
        self.message_bar.hide()  # a new attempt: the last refusal no longer applies
        bundles = [p.parent if p.name == "module.toml" else p for p in paths]
        self.session.controller.publish(bundles, PANE)

    def request_apply_config(self) -> None:
        selected = self.selected()
        if len(selected) != 1:
            return
        name = selected[0].name
        try:
            values = views.module_config(self.session.ctx, name)
        except DeployCenterError as error:
            self.session.notifier.error(error.message, PANE)
            return
        dialog = ConfigDialog(name, values, self)
        if dialog.exec() and dialog.changed_values():
            self.apply_config(name, dialog.changed_values())

    def apply_config(self, name: str, values: dict[str, str]) -> None:
        self.message_bar.hide()
        self.session.controller.apply_config(name, values, PANE)

    def request_delete(self) -> None:
        selected = self.selected()
        if len(selected) != 1:
            return
        name = selected[0].name
        question = (
            f"Delete module {name}? It is removed from every front-end; its history stays. "
            "Publishing it again brings it back."
        )
        if self.session.notifier.confirm("Delete module", question, "Delete"):
            self.message_bar.hide()
            self.session.controller.delete_module(name, PANE)

    def request_deploy(self) -> None:
        names = [e.name for e in self.selected() if e.planned]
        if names:
            self.message_bar.hide()
            self.session.controller.deploy_modules(names, PANE)

    def request_rollback(self) -> None:
        names = [e.name for e in self.selected() if e.deployed_version is not None]
        if names:
            self.message_bar.hide()
            request_rollback(self.session, PANE, names=names)

    def request_publish_solution(self) -> None:
        names = [e.name for e in self.selected()]
        if not names:
            return
        shown = ", ".join(names[:10]) + (f" and {count_text(len(names) - 10)} more" if len(names) > 10 else "")
        question = (
            f"Publish solution for {shown}? Each one's latest version is compiled again from its stored "
            "source for the current platform and deployed in dependency order, even if already deployed."
        )
        if self.session.notifier.confirm("Publish solution", question, "Publish solution"):
            self.message_bar.hide()
            self.session.controller.publish_solution(names, PANE)
