"""The Upgrades pane: where the platform upgrade stands, Deploy All, Upgrade to..., and every run.

What is left to deploy is the engine's Deploy All plan (``session.plan``): the counts, the
Deploy, Rolling deploy and Stage buttons and their questions all follow it, front-ends to bring
up to date included; during a run the counts move with the modules the run makes live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QModelIndex, QPoint, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QProgressBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.catalog import compare_versions
from app.engine.errors import BadInputError
from app.engine.read.preview import DeployPreview
from app.engine.runs.planner import DEPLOY
from app.engine.vocabulary import ModuleState, RunKind, SkipReason
from app.gui.controller import describe_plan, describe_stage
from app.gui.formatting import count_text, describe_run, plural
from app.gui.jobs import JobResult
from app.gui.lifecycle import request_rollback
from app.gui.modules.model import ModulesModel
from app.gui.notifier import RunChoices
from app.gui.run_progress import RunProgress
from app.gui.session import GuiSession
from app.gui.snapshot import Snapshot
from app.gui.table_model import SORT_ROLE
from app.gui.upgrades.report_model import RunReportModel
from app.gui.upgrades.states_bar import StatesBar
from app.gui.widgets import PANE_MARGINS, Count, FloatingMessageBar, RefusalShortcuts, move_bar, table_view

PANE = "upgrades"
TOTAL = "total"  # not a state: every module
STAGED = "staged"  # not a state either: ready modules whose release is already on the front-ends
STAGE_JOB = "stage plan"
COUNTS_DELAY_MS = 100


def action_button(action: QAction) -> QToolButton:
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    button.setAccessibleName(action.text().replace("&", "").rstrip("…."))
    return button


class UpgradesPane(QWidget):
    open_run = Signal(int)
    deploy_started = Signal()  # the user confirmed a run that deploys (Deploy All, Stage now, a rollback…)

    def __init__(self, session: GuiSession, modules: ModulesModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.modules = modules
        self.report = RunReportModel(self)
        self._planning = False
        self.staged = 0
        self.deploy_action = QAction("&Deploy", self)
        self.deploy_action.setShortcut(QKeySequence("Ctrl+D"))
        self.deploy_action.triggered.connect(self.request_deploy_all)
        self.upgrade_action = QAction("&Upgrade to…", self)
        self.upgrade_action.setShortcut(QKeySequence("Ctrl+U"))
        self.upgrade_action.setIconText("Upgrade to…")  # toolbars drop the ellipsis otherwise
        self.upgrade_action.setToolTip("Move to a newer platform version and prepare every module for it")
        self.upgrade_action.triggered.connect(self.request_upgrade)
        self.rolling_action = QAction("Deploy one front-end at a &time…", self)
        self.rolling_action.setIconText("Rolling deploy…")
        self.rolling_action.triggered.connect(lambda: self.request_deploy_all(rolling=True))
        self.stage_action = QAction("&Stage now", self)
        self.stage_action.triggered.connect(self.request_stage)
        self.solution_action = QAction("Publish &solution…", self)
        self.solution_action.setIconText("Publish solution…")
        self.solution_action.triggered.connect(self.request_publish_solution)
        self.rollback_action = QAction("&Roll back run…", self)
        self.rollback_action.setIconText("Roll back run…")
        self.rollback_action.triggered.connect(self.request_rollback)
        self.refusals = RefusalShortcuts(self, session.notifier, PANE, self._holding_run)
        self.refusals.watch(
            self.deploy_action,
            self.upgrade_action,
            self.stage_action,
            self.solution_action,
            self.rollback_action,
            self.rolling_action,
        )
        self._build()
        session.snapshot_loaded.connect(self._on_snapshot)
        session.tracker.started.connect(self._on_run_started)
        session.tracker.ticked.connect(self._follow)
        session.tracker.ended.connect(self._on_run_ended)
        session.controller.busy_changed.connect(self.update_actions)
        session.plan.changed.connect(self._on_plan)
        session.plan.reading_changed.connect(self.update_actions)
        self._counts_soon = QTimer(self)  # counts follow the modules table, once per burst of changes
        self._counts_soon.setSingleShot(True)
        self._counts_soon.setInterval(COUNTS_DELAY_MS)
        self._counts_soon.timeout.connect(self._show_counts)
        for signal in (modules.dataChanged, modules.modelReset):
            signal.connect(self._counts_soon.start)
        self.update_actions()

    def _on_plan(self, _read: object) -> None:
        self._show_counts()  # a new plan is rare: shown at once, not at the next burst of changes

    def _build(self) -> None:
        self.message_bar = FloatingMessageBar(self)
        self.title = QLabel("Reading the environment…")
        self.title.setAccessibleName("Upgrade status")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.title.setFont(font)
        self.subtitle = QLabel()
        self.subtitle.setWordWrap(True)
        self.counts = {
            key: Count(caption)
            for key, caption in (
                (TOTAL, "Modules"),
                (ModuleState.READY, "Ready for deployment"),
                (ModuleState.COMPILATION_FAILED, "Compilation failed"),
                (ModuleState.DEPLOYED, "Already deployed"),
                (STAGED, "Staged, not switched"),
            )
        }
        self.counts[STAGED].setToolTip(
            "Ready modules whose release Stage now left on every front-end: Deploy All only switches them"
        )
        counts_row = QHBoxLayout()
        for widget in self.counts.values():
            counts_row.addWidget(widget)
        counts_row.addStretch(1)
        self.states_bar = StatesBar()
        self.deploy_button = action_button(self.deploy_action)
        self.stage_button = action_button(self.stage_action)
        self.rolling_button = action_button(self.rolling_action)
        self.upgrade_button = action_button(self.upgrade_action)
        self.solution_button = action_button(self.solution_action)
        self.rollback_button = action_button(self.rollback_action)
        buttons = QHBoxLayout()
        for button in (
            self.deploy_button,
            self.rolling_button,
            self.stage_button,
            self.upgrade_button,
            self.solution_button,
            self.rollback_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.upgrade_progress = QProgressBar()
        self.upgrade_progress.setAccessibleName("Upgrade preparation progress")
        self.upgrade_progress.hide()
        self.report_proxy = QSortFilterProxyModel(self)
        self.report_proxy.setSourceModel(self.report)
        self.report_proxy.setSortRole(SORT_ROLE)
        self.table = table_view(self.report_proxy, self.report, "Runs")
        self.table.activated.connect(self._on_activated)
        self.table.doubleClicked.connect(self._on_activated)
        self.table.selectionModel().currentRowChanged.connect(self.update_actions)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PANE_MARGINS)
        layout.addWidget(self.message_bar.slot)  # kept for messages: they never push the rows down
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(counts_row)
        layout.addWidget(self.states_bar)
        layout.addLayout(buttons)
        layout.addWidget(self.upgrade_progress)
        report_label = QLabel("&Report of every run (Enter or double-click opens its details)")
        report_label.setBuddy(self.table)
        layout.addWidget(report_label)
        layout.addWidget(self.table, 1)

    # -- showing ------------------------------------------------------------------------------

    def _on_snapshot(self, snapshot: Snapshot) -> None:
        status = snapshot.status
        upgrading = status.upgrade_to == status.platform_version and status.upgrade_from is not None
        if upgrading and not status.fully_upgraded:
            self.title.setText(f"Upgrading modules from {status.upgrade_from} to {status.upgrade_to}")
        else:
            self.title.setText(f"Up to date on {status.platform_version}")
        self.staged = status.staged
        self.report.load(snapshot.runs)
        for run in self.session.tracker.active():
            self.report.follow(run)
        self._show_counts()

    def _show_counts(self) -> None:
        states = self.modules.state_counts()
        self.counts[TOTAL].set(self.modules.rowCount())
        self.counts[ModuleState.COMPILATION_FAILED].set(states[ModuleState.COMPILATION_FAILED])
        self.states_bar.set_counts(states)
        preview = self.session.plan.preview
        if self.modules.plan_known and preview is not None:
            planned = self.modules.plan_counts()
            self.counts[ModuleState.READY].set(planned[DEPLOY])
            self.counts[ModuleState.DEPLOYED].set(planned[SkipReason.ALREADY_DEPLOYED])
            self.counts[STAGED].set(len(preview.staged))
            self.subtitle.setText(describe_left(preview, planned[DEPLOY], states))
        else:
            for key in (ModuleState.READY, ModuleState.DEPLOYED, STAGED):
                self.counts[key].clear()
            error = self.session.plan.error
            self.subtitle.setText(
                f"Could not read what Deploy All would do: {error}" if error else "Reading what Deploy All would do…"
            )
        self.update_actions()

    def _on_run_started(self, progress: RunProgress) -> None:
        if RunKind(progress.kind).traits.prepares:
            move_bar(
                self.upgrade_progress,
                progress.done,
                max(progress.total, 1),
                f"Preparing modules: {count_text(progress.done)} / {count_text(progress.total)}",
            )
            self.upgrade_progress.show()
        self.update_actions()

    def _follow(self) -> None:
        """The report's rows of the active runs, and the preparation bar, at the window's tick."""
        for progress in self.session.tracker.active():
            if RunKind(progress.kind).traits.prepares:
                text = f"Preparing modules: {count_text(progress.done)} / {count_text(progress.total)}"
                move_bar(self.upgrade_progress, progress.done, max(progress.total, 1), text)
            self.report.follow(progress)

    def _on_run_ended(self, progress: RunProgress) -> None:
        self.report.follow(progress)
        if RunKind(progress.kind).traits.prepares:
            self.upgrade_progress.hide()
        self.update_actions()

    def update_actions(self) -> None:
        stage_reason = self._why_no_run() or self._why_no_deploy()
        reason = stage_reason or self._why_change_control()
        self.deploy_action.setEnabled(reason is None)
        self.deploy_action.setToolTip(reason or self._deploy_tip())
        upgrade_reason = self._why_no_run()
        self.upgrade_action.setEnabled(upgrade_reason is None)
        self.upgrade_action.setToolTip(
            upgrade_reason or "Move to a newer platform version and prepare every module for it"
        )
        farm = self._enabled_frontends()
        rolling_reason = reason or (None if len(farm) > 1 else "A rolling deploy needs two enabled front-ends")
        self.rolling_action.setEnabled(rolling_reason is None)
        self.rolling_action.setToolTip(
            rolling_reason
            or f"Deploy All, switching {', '.join(farm)} one at a time: each drained, switched, checked, undrained"
        )
        self.stage_action.setEnabled(stage_reason is None)  # staging switches nothing: allowed any time
        self.stage_action.setToolTip(
            stage_reason
            or "Stage now: write every release Deploy All would deploy to the "
            "front-ends, switch nothing; a later Deploy All only switches"
        )
        self.solution_action.setEnabled(upgrade_reason is None)
        self.solution_action.setToolTip(
            upgrade_reason
            or "Publish solution: recompile every module from its "
            "stored source and deploy them all, even those already deployed"
        )
        rollback_reason = upgrade_reason or self._why_no_rollback()
        self.rollback_action.setEnabled(rollback_reason is None)
        run = self.selected_run()
        self.rollback_action.setToolTip(rollback_reason or f"Make live again what was live before run {run}")
        for button, action in (
            (self.deploy_button, self.deploy_action),
            (self.upgrade_button, self.upgrade_action),
            (self.stage_button, self.stage_action),
            (self.rolling_button, self.rolling_action),
            (self.solution_button, self.solution_action),
            (self.rollback_button, self.rollback_action),
        ):
            button.setAccessibleDescription(action.toolTip())

    def _why_no_run(self) -> str | None:
        active = self.session.tracker.newest_active()
        if active is not None:
            return f"{describe_run(active, starts_sentence=True)} is in progress"
        if self.session.controller.awaiting_run_id():
            return "A run is starting"
        if self._planning:
            return "Reading what Deploy All would do…"
        return None

    def _holding_run(self) -> int | None:
        """The run a refusal of this pane's actions is about, when one is in progress."""
        active = self.session.tracker.newest_active()
        return active.run_id if active is not None else None

    def _why_no_deploy(self) -> str | None:
        """Deploy follows the engine's plan: off until it is read, and when it deploys nothing."""
        if self.session.snapshot is None:
            return "Reading the environment…"
        if self.session.plan.error is not None:
            return None  # Deploy reads the plan again, and says what stops it
        if not self.modules.plan_known:
            return "Reading what Deploy All would do…"
        if self.modules.plan_counts()[DEPLOY] == 0:
            return "Nothing to deploy: Deploy All's plan leaves every module as it is"
        return None

    def _why_change_control(self) -> str | None:
        """Change control, as the engine last said it: why Deploy All may not start now, and when it may."""
        snapshot = self.session.snapshot
        state = snapshot.status.change_control if snapshot is not None else None
        return state.why_not(planned=True) if state is not None else None

    def _deploy_tip(self) -> str:
        if self.session.plan.error is not None:
            return f"Deploy All (its plan could not be read: {self.session.plan.error}; Deploy reads it again)"
        return f"Deploy All: make the {plural(self.modules.plan_counts()[DEPLOY], 'module')} of its plan live"

    def _enabled_frontends(self) -> list[str]:
        snapshot = self.session.snapshot
        return [fe.name for fe in snapshot.status.frontends if fe.enabled] if snapshot is not None else []

    def _why_no_rollback(self) -> str | None:
        index = self.table.selectionModel().currentIndex()
        if not index.isValid():
            return "Select a run in the report to roll it back"
        row = self.report.rows[self.report_proxy.mapToSource(index).row()]
        if not RunKind(row.kind).traits.rolls_back:
            return f"A {row.kind} run makes nothing live: there is nothing to roll back"
        return None

    def selected_run(self) -> int | None:
        index = self.table.selectionModel().currentIndex()
        return self.report.rows[self.report_proxy.mapToSource(index).row()].id if index.isValid() else None

    def select_run(self, run_id: int) -> None:
        """Make a run of the report the current row (keyboard users and tests)."""
        number = next((n for n, row in enumerate(self.report.rows) if row.id == run_id), None)
        if number is not None:
            self.table.setCurrentIndex(self.report_proxy.mapFromSource(self.report.index(number, 0)))

    def _context_menu(self, at: QPoint) -> None:
        index = self.table.indexAt(at)
        if index.isValid():
            self.table.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction(self.rollback_action)
        menu.exec(self.table.viewport().mapToGlobal(at))

    def _on_activated(self, index: QModelIndex) -> None:
        source = self.report_proxy.mapToSource(index)
        self.open_run.emit(self.report.rows[source.row()].id)

    # -- acting -------------------------------------------------------------------------------

    def request_deploy_all(self, rolling: bool = False) -> None:
        """Read the plan afresh on a job thread, show it, and start Deploy All once confirmed."""
        self._with_plan(lambda preview: self._confirm_deploy(preview, rolling), "deploy")

    def _with_plan(self, act: Callable[[DeployPreview], None], verb: str) -> None:
        """Read the engine's plan on a job thread, then ``act`` on it when it makes anything live."""
        if self._planning:
            return
        self._planning = True
        self.message_bar.hide()
        self.update_actions()
        self.session.plan.read(lambda result: self._planned(result, act, verb))

    def _planned(self, result: JobResult, act: Callable[[DeployPreview], None], verb: str) -> None:
        self._planning = False
        try:
            if self.session.closed:
                return
            if not result.ok:
                self.session.notifier.error(result.error_text, PANE)
            elif not result.value.preview.to_deploy:
                self.session.notifier.info(f"Nothing to {verb}: every prepared module is already live", PANE)
            else:
                act(result.value.preview)
        finally:
            self.update_actions()

    def _confirm_deploy(self, preview: DeployPreview, rolling: bool) -> None:
        choices = RunChoices(can_soak=rolling)
        if self.session.notifier.confirm("Deploy All", self._plan_text(preview, rolling), "Deploy", choices=choices):
            self._deploy_with(choices, rolling)

    def _deploy_with(self, choices: RunChoices, rolling: bool) -> None:
        try:
            options = choices.options(rolling)
        except BadInputError as error:
            self.session.notifier.error(error.message, PANE)
            return
        self.session.controller.deploy_all(PANE, options=options)
        self.deploy_started.emit()

    def _plan_text(self, preview: DeployPreview, rolling: bool) -> str:
        text = describe_plan(preview)
        if rolling:
            text += (
                f"\nFront-ends switch one at a time ({', '.join(self._enabled_frontends())}): each is drained, "
                "switched, checked (and soaked), then undrained; a failed hook or check switches back that "
                "front-end and those before it."
            )
        return text + "\nA failure budget stops the run once more modules than it allows have failed."

    def request_upgrade(self) -> None:
        versions = self.upgrade_targets()
        if not versions:
            self.session.notifier.info("This is the newest platform version Deploy Center knows", PANE)
            return
        version, ok = QInputDialog.getItem(
            self, "Upgrade to", "Platform version to upgrade to and prepare every module for:", versions, 0, False
        )
        if ok:
            self.start_upgrade(version)

    def upgrade_targets(self) -> list[str]:
        current = self.session.snapshot.status.platform_version if self.session.snapshot else None
        known = [v.version for v in self.session.ctx.catalog.versions]
        return [v for v in known if current is None or compare_versions(v, current) > 0]

    def start_upgrade(self, version: str) -> None:
        question = (
            f"Prepare every module for platform {version}? Front-ends keep running their current "
            "releases until you deploy."
        )
        if self.session.notifier.confirm("Upgrade", question, "Upgrade"):
            self.message_bar.hide()
            self.session.controller.upgrade(version, PANE)
            self.update_actions()

    def request_stage(self) -> None:
        """Read the plan afresh on a job thread, say what would be staged, and stage once confirmed."""
        self._with_plan(self._confirm_stage, "stage")

    def _confirm_stage(self, preview: DeployPreview) -> None:
        if self.session.notifier.confirm("Stage now", describe_stage(preview), "Stage"):
            self.session.controller.stage_all(PANE)
            self.deploy_started.emit()

    def request_publish_solution(self) -> None:
        total = self.modules.rowCount()
        question = (
            f"Publish solution for every module ({plural(total, 'module')})? Each one's latest version is "
            f"compiled again from its stored source for the current platform and deployed, in dependency "
            "order, even those already deployed. A module that fails to compile blocks its consumers."
        )
        if self.session.notifier.confirm("Publish solution", question, "Publish solution"):
            self.message_bar.hide()
            self.session.controller.publish_solution(None, PANE)
            self.deploy_started.emit()

    def request_rollback(self) -> None:
        run_id = self.selected_run()
        if run_id is None or self._why_no_rollback() is not None:
            return
        self.message_bar.hide()
        request_rollback(self.session, PANE, run_id=run_id, started=self.deploy_started.emit)


def describe_left(preview: DeployPreview, left: int, states: Mapping[str, int]) -> str:
    """Under the pane's title: what Deploy All would do now, in a sentence or two.

    ``left`` is the plan's count as the runs followed since moved it; the rest is the plan's.
    """
    if left:
        parts = [f"{plural(left, 'module')} to deploy."]
        behind = sorted(preview.behind().items())
        if behind:
            lacking = " and ".join(f"{name} lacks {count_text(number)}" for name, number in behind)
            them = "it" if len(behind) == 1 else "them"
            parts.append(f"Of those, {lacking}: Deploy All brings {them} up to date.")
        if preview.staged:
            staged = len(preview.staged)
            verbs = "is staged already and only switches" if staged == 1 else "are staged already and only switch"
            parts.append(f"{count_text(staged)} of them {verbs}.")
        parts.append("Deploy makes them live.")
        return " ".join(parts)
    if states.get(ModuleState.COMPILATION_FAILED) or states.get(ModuleState.NOT_PREPARED):
        return "Nothing left to deploy; fix the modules that did not compile and publish them again."
    return "Fully upgraded: every module is live in the current platform version on every enabled front-end."
