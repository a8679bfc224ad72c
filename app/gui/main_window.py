"""The main window: side navigation over three panes, toolbar, menus and a status bar."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSize, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QStackedWidget,
    QWidget,
)

from app import __version__
from app.engine.read.queries import Activity
from app.engine.read.views import Status
from app.engine.vocabulary import ItemStatus, RunStatus
from app.gui.audit.pane import AuditPane
from app.gui.change_control.pane import ChangeControlPane
from app.gui.controller import OperationResult
from app.gui.desktop import RunNotifier
from app.gui.details.pane import DetailsPane
from app.gui.formatting import plural
from app.gui.frontends.pane import FrontendsPane
from app.gui.icons import app_icon, status_icon
from app.gui.modules.model import ModulesModel
from app.gui.modules.pane import ModulesPane
from app.gui.notifier import ERROR, Message, Reply
from app.gui.plan_reader import PlanRead
from app.gui.run_progress import RunProgress, RunUpdate
from app.gui.session import GuiSession
from app.gui.settings import app_settings
from app.gui.snapshot import Snapshot
from app.gui.upgrades.pane import UpgradesPane
from app.gui.widgets import move_bar

PANES = ("upgrades", "modules", "details", "frontends", "changes", "audit")
PANE_TITLES = ("Upgrades", "Modules", "Deployment Details", "Front-ends", "Change control", "Audit")
PANE_ICONS = (
    RunStatus.RUNNING,
    ItemStatus.DEPLOYED,
    ItemStatus.PENDING,
    ItemStatus.SKIPPED,
    ItemStatus.BLOCKED,
    ItemStatus.STAGED,
)
STATUS_MESSAGE_MS = 10_000
NAV_WIDTH = 88
MODULES_NAV = PANES.index("modules")


def window_title(environment: str) -> str:
    return f"Deploy Center — {environment}"


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(self, session: GuiSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWindowTitle(window_title(session.environment_name))
        self.setWindowIcon(app_icon())
        self.modules_model = ModulesModel(self)
        # Connected before the panes: they read the model when the same snapshot (or plan) reaches them.
        session.snapshot_loaded.connect(self._load_modules)
        session.plan.changed.connect(self._plan_read)
        self.upgrades = UpgradesPane(session, self.modules_model)
        self.modules = ModulesPane(session, self.modules_model)
        self.details = DetailsPane(session, self.modules_model, self.upgrades.request_deploy_all)
        self.frontends = FrontendsPane(session)
        self.changes = ChangeControlPane(session)
        self.audit = AuditPane(session)
        self.panes: tuple[
            UpgradesPane | ModulesPane | DetailsPane | FrontendsPane | ChangeControlPane | AuditPane, ...
        ] = (
            self.upgrades,
            self.modules,
            self.details,
            self.frontends,
            self.changes,
            self.audit,
        )
        self._build_central()
        self._build_actions()
        self._build_status_bar()
        self.upgrades.open_run.connect(self.open_run)
        self.upgrades.deploy_started.connect(lambda: self.show_pane(PANES.index("details")))
        self.changes.deploy_started.connect(lambda: self.show_pane(PANES.index("details")))
        session.notifier.posted.connect(self._on_message)
        session.notifier.withdrawn.connect(self._withdraw_message)
        session.tracker.ended.connect(self._clear_run_notices)
        session.watcher.activity.connect(self._clear_notices_of_ended_runs)
        session.controller.finished.connect(self._after_operation)
        self._refresh_asked = False
        self.desktop = RunNotifier(self, session)
        session.tracker.ended.connect(self.desktop.run_ended)
        session.snapshot_loaded.connect(self._on_snapshot)
        for signal in (session.tracker.ticked, session.tracker.started, session.tracker.ended):
            signal.connect(self._show_active_runs)
        session.controller.busy_changed.connect(self._show_active_runs)
        self._restore_settings()
        self._ask_before_closing = True

    # -- layout -------------------------------------------------------------------------------

    def _build_central(self) -> None:
        # Icons over their titles, titles wrapped: a narrow column leaves the tables room at 1024 px.
        self.nav = QListWidget()
        self.nav.setAccessibleName("Panes")
        self.nav.setViewMode(QListView.ViewMode.IconMode)
        self.nav.setFlow(QListView.Flow.TopToBottom)
        self.nav.setMovement(QListView.Movement.Static)
        self.nav.setWrapping(False)
        self.nav.setWordWrap(True)
        self.nav.setIconSize(QSize(24, 24))
        self.nav.setSpacing(2)
        cell = QSize(NAV_WIDTH - 8, self.nav.fontMetrics().height() * 2 + 36)
        for title, icon in zip(PANE_TITLES, PANE_ICONS, strict=True):
            item = QListWidgetItem(status_icon(icon), title, self.nav)
            item.setSizeHint(cell)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.nav.setFixedWidth(NAV_WIDTH)
        self.stack = QStackedWidget()
        for pane in self.panes:
            self.stack.addWidget(pane)
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.nav.setCurrentRow(0)

    def _build_actions(self) -> None:
        self.refresh_action = QAction("&Refresh", self)
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.refresh_action.setToolTip("Read the environment again (F5)")
        self.refresh_action.triggered.connect(self.refresh_on_request)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        find_action = QAction("&Find", self)
        find_action.setShortcut(QKeySequence.StandardKey.Find)
        find_action.triggered.connect(self._focus_search)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for act in (
            self.upgrades.deploy_action,
            self.upgrades.upgrade_action,
            self.modules.publish_action,
            self.refresh_action,
        ):
            toolbar.addAction(act)
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        file_menu.addAction(self.refresh_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        run_menu = menus.addMenu("&Run")
        run = self.details.run_actions
        for group in (
            (
                self.upgrades.deploy_action,
                self.upgrades.rolling_action,
                self.upgrades.stage_action,
                self.upgrades.upgrade_action,
            ),
            (self.upgrades.solution_action, self.upgrades.rollback_action),
            (run.cancel_action, run.again_action, run.rollback_action),
            (run.json_action, run.csv_action),
        ):
            run_menu.addActions(list(group))
            run_menu.addSeparator()
        module_menu = menus.addMenu("&Module")
        for act in (
            self.modules.publish_action,
            self.modules.apply_action,
            self.modules.delete_action,
            self.modules.deploy_action,
            self.modules.rollback_action,
            self.modules.solution_action,
        ):
            module_menu.addAction(act)
        view_menu = menus.addMenu("&View")
        self.pane_actions = []
        for number, title in enumerate(PANE_TITLES):
            act = QAction(title, self)
            act.setShortcut(QKeySequence(f"Ctrl+{number + 1}"))
            act.triggered.connect(lambda _=False, n=number: self.show_pane(n))
            view_menu.addAction(act)
            self.pane_actions.append(act)
        view_menu.addSeparator()
        view_menu.addAction(find_action)
        help_menu = menus.addMenu("&Help")
        about = QAction("&About Deploy Center", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _build_status_bar(self) -> None:
        self.platform_label = QLabel()
        self.platform_label.setAccessibleName("Platform version")
        self.run_label = QLabel()
        self.run_bar = QProgressBar()
        self.run_bar.setAccessibleName("Active run progress")
        self.run_bar.setMaximumWidth(180)
        self.run_bar.setMaximumHeight(16)
        bar = self.statusBar()
        bar.addPermanentWidget(self.run_label)
        bar.addPermanentWidget(self.run_bar)
        bar.addPermanentWidget(self.platform_label)
        self._show_active_runs()

    # -- behaviour ----------------------------------------------------------------------------

    def show_pane(self, number: int) -> None:
        self.nav.setCurrentRow(number)

    def open_run(self, run_id: int) -> None:
        self.details.show_run(run_id)
        self.show_pane(PANES.index("details"))

    def _focus_search(self) -> None:
        pane = self.stack.currentWidget()
        if isinstance(pane, (ModulesPane, DetailsPane)):
            pane.focus_search()

    def _load_modules(self, snapshot: Snapshot) -> None:
        self.modules_model.load(snapshot.modules)
        for run in self.session.tracker.active():
            self.modules_model.lock_keys(run.held, run.run_id)

    def _plan_read(self, read: PlanRead | None) -> None:
        self.modules_model.set_plan(read.marks if read is not None else None)

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        if self._refresh_asked:
            self._refresh_asked = False
            for pane in self.panes:
                pane.message_bar.moved_on()
        self.setWindowTitle(window_title(snapshot.status.name))
        self.platform_label.setText(f"Platform {snapshot.status.platform_version}")
        self._show_modules_health(snapshot.status)

    def _show_modules_health(self, status: Status) -> None:
        """The Modules icon says at a glance whether modules failed or wait to be deployed."""
        if status.compilation_failed:
            icon, tip = (
                ItemStatus.FAILED,
                (f"{plural(status.compilation_failed, 'module')} failed to compile for {status.platform_version}"),
            )
        elif status.ready or status.not_prepared:
            icon, tip = ItemStatus.PENDING, f"{plural(status.ready, 'module')} ready to deploy"
        else:
            icon, tip = ItemStatus.DEPLOYED, f"Every module is deployed on {status.platform_version}"
        item = self.nav.item(MODULES_NAV)
        item.setIcon(status_icon(icon))
        item.setData(Qt.ItemDataRole.UserRole, str(icon))
        item.setToolTip(tip)

    def _on_message(self, message: Message) -> None:
        # A refusal because of a run that has ended meanwhile is history already: status bar only.
        shown_in_pane = message.pane in PANES and not self._ended(message.run_id)
        if shown_in_pane:
            self.panes[PANES.index(str(message.pane))].message_bar.show_message(message)
        if not shown_in_pane or self.stack.currentIndex() != PANES.index(str(message.pane)):
            self.statusBar().showMessage(message.text, STATUS_MESSAGE_MS * (2 if message.level == ERROR else 1))

    def _ended(self, run_id: int | None) -> bool:
        known = self.session.tracker.runs.get(run_id) if run_id is not None else None
        return known is not None and not known.running

    def _withdraw_message(self, pane: str, source: str) -> None:
        if pane in PANES:
            self.panes[PANES.index(pane)].message_bar.withdraw(source)

    def _clear_run_notices(self, progress: RunProgress) -> None:
        for pane in self.panes:
            pane.message_bar.run_ended(progress.run_id)

    def _clear_notices_of_ended_runs(self, activity: Activity) -> None:
        running = activity.active_ids | {p.run_id for p in self.session.tracker.active()}
        for pane in self.panes:
            pane.message_bar.runs_active(running)

    def _after_operation(self, done: OperationResult) -> None:
        """A later action of a pane succeeded: what that pane's last failure said is history."""
        if done.result.ok and done.operation.pane in PANES:
            self.panes[PANES.index(str(done.operation.pane))].message_bar.moved_on()

    def refresh_on_request(self) -> None:
        """F5: read the environment again; the panes' messages about earlier failures go with it."""
        self._refresh_asked = True
        self.session.refresh()

    def _show_active_runs(self, _changed: RunProgress | RunUpdate | None = None) -> None:
        active = self.session.tracker.newest_active()
        starting = self.session.controller.starting()
        self.run_label.setVisible(active is not None or bool(starting))
        self.run_bar.setVisible(active is not None or bool(starting))
        if active is None:
            if starting:  # asked for a moment ago: said at once, before the run is recorded
                self.run_label.setText(f"{starting[-1].name}: starting…")
                self.run_bar.setRange(0, 0)
            return
        others = len(self.session.tracker.active()) - 1
        more = f" (+{others} more)" if others else ""
        self.run_label.setText(f"Run {active.run_id} ({active.kind}) by {active.started_by}{more}")
        move_bar(self.run_bar, *active.bar(), active.short_progress_text())
        self.run_bar.setToolTip(active.progress_text())

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Deploy Center",
            f"Deploy Center {__version__}\n\nDeploys the modules prepared by a platform upgrade, "
            f"with history, retries and locks.\n\nDatabase: {self.session.ctx.db.describe()}",
        )

    # -- settings and closing -------------------------------------------------------------------

    def _restore_settings(self) -> None:
        settings = app_settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1180, 760)
        state = settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        pane = settings.value("window/pane", 0, type=int)
        self.show_pane(pane if isinstance(pane, int) and 0 <= pane < len(PANES) else 0)
        splitter = settings.value("details/splitter")
        if isinstance(splitter, QByteArray):
            self.details.splitter.restoreState(splitter)

    def save_settings(self) -> None:
        settings = app_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("window/pane", self.stack.currentIndex())
        settings.setValue("details/splitter", self.details.splitter.saveState())
        settings.sync()

    def close_without_asking(self) -> None:
        """Close now, cancelling this window's runs (Ctrl-C or SIGTERM)."""
        self._ask_before_closing = False
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        """A run of this window is cancelled (when the user agrees) and joined before closing."""
        running = self.session.controller.runs_in_progress()
        if running and self._ask_before_closing:
            names = ", ".join(f"run {op.run_id}" if op.run_id else op.name for op in running)
            question = (
                f"{names} is still in progress. Stop it and close? Modules already deploying "
                "finish first; the others are marked cancelled and Deploy All can resume them later."
            )
            # Withdrawn when the last of them ends meanwhile: closing then cancels nothing.
            reply = self.session.notifier.ask(
                "Close Deploy Center",
                question,
                "Stop the run and close",
                decline_label="Keep running",
                withdrawn_by=self.session.controller.busy_changed,
                applies=lambda: not self.session.controller.runs_in_progress(),
            )
            if reply is Reply.NO:
                event.ignore()
                return
        self.save_settings()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.session.close()
        finally:
            QApplication.restoreOverrideCursor()
        event.accept()
        self.closed.emit()
