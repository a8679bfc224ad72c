"""The Deployment Details pane: one run, live: progress, per-module table, log, Cancel, Deploy again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QTextDocument
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.engine import views
from app.engine.context import EnvironmentContext
from app.engine.runs.planner import gc_paused
from app.engine.vocabulary import ItemStatus, ModuleState, RunKind, RunStatus
from app.gui.export import export_run
from app.gui.filters import RunItemFilter
from app.gui.formatting import counts_summary, duration, item_hint, plural, run_outcome, status_label, timestamp
from app.gui.icons import status_icon
from app.gui.jobs import JobResult
from app.gui.lifecycle import request_rollback
from app.gui.modules_model import ModulesModel
from app.gui.notifier import Reply
from app.gui.pane_upgrades import ROLLBACK_KINDS, action_button
from app.gui.run_items_model import RunItemsModel
from app.gui.run_progress import (
    LOG_LIMIT,
    PROBLEMS,
    RunProgress,
    RunUpdate,
    blocked_by,
    blocking_producer,
    frontends_text,
    wave_text,
)
from app.gui.session import GuiSession
from app.gui.settings import app_settings
from app.gui.timeline import RunTimeline
from app.gui.widgets import PANE_MARGINS, MessageBar, RefusalShortcuts, move_bar, table_view

PANE = "details"
DEPLOY_AGAIN_STATUSES = frozenset({RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED})
AGAIN_ITEM_STATUSES = PROBLEMS | {ItemStatus.CANCELLED}
NOW_DEPLOYING_SHOWN = 8
BLOCKED_SHOWN = 500
BLOCKED_TAB = 2
ACTIONS_DELAY_MS = 100
EXPORT_FOLDER_KEY = "export/folder"
RECORD_JOB = "run record"


def _read_run(ctx: EnvironmentContext, run_id: int) -> RunProgress:
    """Job thread: a recorded run, its rows and its log built here (10,000 rows take a while)."""
    with gc_paused():
        progress = RunProgress.from_detail(views.run_detail(ctx, run_id))
    if progress.kind == RunKind.DEPLOY_ALL and progress.counts[ItemStatus.FAILED]:
        progress.repeated_failures = frozenset(views.repeated_failures(ctx, run_id))
    return progress


def _read_record(ctx: EnvironmentContext, run_id: int) -> tuple[views.RunDetail, frozenset[str]]:
    """Job thread: what a run that just ended recorded (each item's front-ends), and its repeated failures."""
    return views.run_detail(ctx, run_id), frozenset(views.repeated_failures(ctx, run_id))


def _deployed_now(modules: ModulesModel, name: str) -> bool:
    entry = modules.entry(name)
    return entry is not None and entry.state == ModuleState.DEPLOYED


def frontend_tally(progress: RunProgress) -> dict[str, Counter[str]]:
    """For each front-end, how many of the run's modules are in each state there (as recorded)."""
    tally: dict[str, Counter[str]] = {}
    for row in progress.rows:
        for name, state in (row.frontends or {}).items():
            tally.setdefault(name, Counter())[state] += 1
    return tally


class DetailsPane(QWidget):
    def __init__(
        self, session: GuiSession, modules: ModulesModel, deploy_all: Callable[[], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.modules = modules  # what is deployed now, for Deploy again
        self._deploy_all = deploy_all  # shows the plan and asks first, as the Deploy button does
        self.progress: RunProgress | None = None
        self._lines_shown = 0
        self._loading: int | None = None
        self.model = RunItemsModel(self)
        self.proxy = RunItemFilter(self)
        self.proxy.setSourceModel(self.model)
        self._make_actions()
        self._build()
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._show_progress)
        session.tracker.started.connect(self._on_run_started)
        session.tracker.updated.connect(self._on_run_updated)
        session.tracker.ended.connect(self._on_run_ended)
        session.tracker.ticked.connect(self._on_tick)
        session.controller.busy_changed.connect(self.update_actions)
        self._actions_soon = QTimer(self)  # Deploy again looks at the Modules rows: once per burst of changes
        self._actions_soon.setSingleShot(True)
        self._actions_soon.setInterval(ACTIONS_DELAY_MS)
        self._actions_soon.timeout.connect(self.update_actions)
        for signal in (modules.dataChanged, modules.modelReset):
            signal.connect(self._actions_soon.start)
        self.show_progress(None)

    def _make_actions(self) -> None:
        def action(text: str, shortcut: str, slot: object) -> QAction:
            made = QAction(text, self)
            if shortcut:
                made.setShortcut(QKeySequence(shortcut))
            made.triggered.connect(slot)
            return made

        self.cancel_action = action("&Cancel run", "Ctrl+Shift+X", self.request_cancel)
        self.again_action = action("Deploy &again", "", self.request_deploy_again)
        self.json_action = action("Export &JSON…", "", lambda: self.request_export("json"))
        self.csv_action = action("Export &CSV…", "", lambda: self.request_export("csv"))
        self.rollback_action = action("&Roll back this run…", "", self.request_rollback)
        self.rollback_action.setIconText("Roll back…")
        self.refusals = RefusalShortcuts(self, lambda text: self.session.notifier.error(text, PANE))
        self.refusals.watch(self.cancel_action)

    def _build(self) -> None:
        self.message_bar = MessageBar()
        self.title = QLabel("No run selected: open one from the Upgrades report, or start a run")
        self.title.setAccessibleName("Run")
        font = self.title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.title.setFont(font)
        self.subtitle = QLabel()
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Run progress")
        self.elapsed = QLabel()
        self.eta = QLabel()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        figures = QGridLayout()
        figures.addWidget(self.bar, 0, 0, 1, 3)
        figures.addWidget(self.elapsed, 1, 0)
        figures.addWidget(self.eta, 1, 1)
        figures.addWidget(self.summary, 1, 2)
        figures.setColumnStretch(2, 1)
        buttons = QHBoxLayout()
        for act in (self.cancel_action, self.again_action, self.rollback_action, self.json_action, self.csv_action):
            buttons.addWidget(action_button(act))
        buttons.addStretch(1)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter modules")
        self.filter_edit.setAccessibleName("Filter the run's modules")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.proxy.set_text)
        self.problems_only = QCheckBox("&Failures only")
        self.problems_only.setToolTip("Show only modules that failed, then those they blocked")
        self.problems_only.toggled.connect(self._show_problems_only)
        filters = QHBoxLayout()
        filters.addWidget(self.filter_edit, 1)
        filters.addWidget(self.problems_only)
        self.now_deploying = QLabel()
        self.now_deploying.setAccessibleName("Deploying now")
        # One line whatever it says: a label whose size follows its text would lay the pane out
        # again, table and timeline included, several times a second during a run.
        self.now_deploying.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.now_deploying.setFixedHeight(self.now_deploying.fontMetrics().height() + 2)
        self.table = table_view(self.proxy, self.model, "Run modules")
        self.table.selectionModel().currentRowChanged.connect(self._show_item)
        self.item_detail = QLabel()
        self.item_detail.setAccessibleName("Selected module's message")
        self.item_detail.setWordWrap(True)
        self.item_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.item_detail.setTextFormat(Qt.TextFormat.PlainText)
        self.solution_button = QPushButton()
        self.solution_button.setAccessibleName("Publish solution for the selected module")
        self.solution_button.clicked.connect(self.request_solution_for_item)
        self.solution_button.hide()
        self.waves = QLabel()  # a rolling run: each front-end and its health check, on one line
        self.waves.setAccessibleName("Front-ends switched one at a time")
        self.waves.setWordWrap(True)
        self.waves.hide()
        splitter = QSplitter(Qt.Orientation.Vertical)
        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addLayout(filters)
        table_layout.addWidget(self.now_deploying)
        table_layout.addWidget(self.table, 1)
        table_layout.addWidget(self.item_detail)
        solution_row = QHBoxLayout()
        solution_row.addWidget(self.solution_button)
        solution_row.addStretch(1)
        table_layout.addLayout(solution_row)
        splitter.addWidget(table_box)
        splitter.addWidget(self._build_views())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PANE_MARGINS)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(figures)
        layout.addWidget(self.waves)
        layout.addLayout(buttons)
        layout.addWidget(splitter, 1)

    def _build_views(self) -> QTabWidget:
        """Below the table: the run's timeline, its log, and what the selected failure blocked."""
        self.timeline = RunTimeline()
        self.timeline.row_clicked.connect(self.select_row)
        self.blocked = QListWidget()
        self.blocked.setAccessibleName("Consumers the failure blocked")
        self.blocked.itemActivated.connect(self._on_blocked_chosen)
        self.blocked.itemClicked.connect(self._on_blocked_chosen)
        self.views = QTabWidget()
        self.views.setAccessibleName("Run views")
        self.views.addTab(self.timeline, "&Timeline")
        self.views.addTab(self._build_log(), "&Log")
        self.views.addTab(self.blocked, "&Blocked")
        self.views.currentChanged.connect(lambda _n: self.timeline.update())
        return self.views

    def _build_log(self) -> QWidget:
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setAccessibleName("Run log")
        self.log.setMaximumBlockCount(LOG_LIMIT)  # bounded: a huge run never slows the view down
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.log_search = QLineEdit()
        self.log_search.setPlaceholderText("Search the log (Enter: next, Shift+Enter: previous)")
        self.log_search.setAccessibleName("Search the log")
        self.log_search.returnPressed.connect(lambda: self.find_in_log(self.log_search.text()))
        back = QAction(self.log_search)
        back.setShortcut(QKeySequence("Shift+Return"))
        back.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        back.triggered.connect(lambda: self.find_in_log(self.log_search.text(), backward=True))
        self.log_search.addAction(back)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.log_search)
        return box

    def focus_search(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    # -- which run ----------------------------------------------------------------------------

    def show_run(self, run_id: int) -> None:
        """The run's live state if it is active (or just ended), else its record, read on a job."""
        known = self.session.tracker.runs.get(run_id)
        if known is not None:
            self.show_progress(known)
            return
        self._loading = run_id
        self.title.setText(f"Run {run_id}: reading…")
        self.session.jobs.submit("run detail", lambda: _read_run(self.session.ctx, run_id),
                                 lambda result: self._loaded(run_id, result))

    def _loaded(self, run_id: int, result: JobResult) -> None:
        if self._loading != run_id:
            return  # another run was chosen meanwhile
        self._loading = None
        if not result.ok:
            self.session.notifier.error(result.error_text, PANE)
            return
        self.show_progress(result.value)

    def show_progress(self, progress: RunProgress | None) -> None:
        if progress is None or self.progress is None or progress.run_id != self.progress.run_id:
            self.problems_only.setChecked(False)  # a choice made for one run, not for the next
        self.progress = progress
        self.model.show(progress)
        self.timeline.show_run(progress)
        self._show_item()
        self.log.setPlainText("\n".join(progress.log) if progress else "")
        self._lines_shown = progress.lines_noted if progress else 0
        self.log.moveCursor(self.log.textCursor().MoveOperation.End)
        self._show_waves()
        self._show_progress()

    def _read_record(self, progress: RunProgress) -> None:
        """A run of this window ended: read what it recorded that its events did not say."""
        if self.session.closed:
            return
        run_id = progress.run_id
        self.session.jobs.submit(RECORD_JOB, lambda: _read_record(self.session.ctx, run_id),
                                 lambda result: self._record_read(progress, result))

    def _record_read(self, progress: RunProgress, result: JobResult) -> None:
        if not result.ok:
            return  # the run stays shown as its events told it; the record is only a complement
        detail, repeated = result.value
        for view in detail.items:
            progress.note_frontends(view)
        progress.repeated_failures = repeated
        if progress is self.progress:
            self._show_item()
            self._show_waves()

    def _show_waves(self) -> None:
        """A rolling run's front-ends with their health checks, as they switch; else, once recorded,
        what each front-end holds of the run's modules when there are several front-ends."""
        p = self.progress
        waves = p.waves if p is not None else {}
        tally = frontend_tally(p) if p is not None and not waves else {}
        if waves:
            self.waves.setText("Front-ends, one at a time: " + " · ".join(
                f"{name} {'✗' if wave.problem else '✓'} {wave_text(wave)}" for name, wave in waves.items()))
        elif len(tally) > 1:
            self.waves.setText("Front-ends: " + " · ".join(
                f"{name} {', '.join(f'{n} {state}' for state, n in sorted(states.items()))}"
                for name, states in sorted(tally.items())))
        self.waves.setVisible(bool(waves) or len(tally) > 1)

    def _on_run_started(self, progress: RunProgress) -> None:
        # Follow a new run unless another run that is still going is being watched.
        if self.progress is None or not self.progress.running or self.progress.run_id == progress.run_id:
            self._loading = None
            self.show_progress(progress)

    def _on_run_updated(self, update: RunUpdate) -> None:
        if self.progress is None or update.run_id != self.progress.run_id:
            return
        self.model.rows_changed(update.rows)
        self.timeline.rows_changed(update.rows)  # drawn at the next tick
        if self._current_row() in update.rows:
            self._show_item()
        lines = self.progress.lines_since(self._lines_shown)
        self._lines_shown = self.progress.lines_noted
        if lines:
            self.log.appendPlainText("\n".join(lines))  # one append per batch, however many lines
        self._show_waves()

    def _on_tick(self) -> None:
        if self.progress is not None and self.progress.running:
            self._show_progress()
            if self.timeline.isVisible():
                self.timeline.update()

    def _on_run_ended(self, progress: RunProgress) -> None:
        if self.progress is not None and progress.run_id == self.progress.run_id:
            self._read_record(progress)
            self._show_progress()
            self.timeline.update()
            self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())  # the outcome
        self.update_actions()

    # -- showing ------------------------------------------------------------------------------

    def _show_progress(self) -> None:
        p = self.progress
        running = p is not None and p.running
        if running and not self._clock.isActive():
            self._clock.start()
        elif not running:
            self._clock.stop()
        self._show_now_deploying()
        if p is None:
            for label in (self.subtitle, self.elapsed, self.eta, self.summary):
                label.clear()
            move_bar(self.bar, 0, 1)
            self.update_actions()
            return
        where = " (started in another process)" if running and not p.own else ""
        self.title.setText(f"Run {p.run_id} · {p.kind} · {run_outcome(p.kind, p.status, p.counts)}{where}")
        self.subtitle.setText(f"Started by {p.started_by} at {timestamp(p.started_at)}"
                              + (f" · finished at {timestamp(p.finished_at)}" if p.finished_at else "")
                              + (f" · {p.message}" if p.message else ""))
        move_bar(self.bar, p.done if p.total else 1, max(p.total, 1), p.progress_text())
        self.elapsed.setText(f"Elapsed: {duration(p.elapsed())}")
        eta = p.eta()
        self.eta.setText(f"Remaining: about {duration(eta)}" if eta is not None else "")
        self.summary.setText(counts_summary({k: v for k, v in p.counts.items() if v}))
        self.update_actions()

    def _show_now_deploying(self) -> None:
        """What deploys now, on one line above the table, for as long as the run goes on."""
        p = self.progress
        running = p is not None and p.running
        now = p.now_deploying() if p is not None and running else []
        names = ", ".join(row.module for row in now[:NOW_DEPLOYING_SHOWN])
        more = f" and {len(now) - NOW_DEPLOYING_SHOWN} more" if len(now) > NOW_DEPLOYING_SHOWN else ""
        idle = "Deploying now: nothing, between batches" if running else ""
        text = f"Deploying now: {names}{more}" if now else idle
        metrics = self.now_deploying.fontMetrics()
        width = max(100, self.now_deploying.width())
        self.now_deploying.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, width))
        self.now_deploying.setToolTip(", ".join(row.module for row in now[:200]))
        if self.now_deploying.isVisibleTo(self) != running:
            self.now_deploying.setVisible(running)

    def _current_row(self) -> int | None:
        index = self.table.selectionModel().currentIndex()
        return self.proxy.mapToSource(index).row() if index.isValid() else None

    def _show_item(self) -> None:
        """The current module's whole message, wrapped, and what to do about it."""
        number = self._current_row()
        p = self.progress
        self.timeline.set_current(number)
        self._show_blocked(number)
        if p is None or number is None or number >= len(p.rows):
            self.item_detail.setText("Select a module to read its whole message here." if p else "")
            self.solution_button.hide()
            return
        row = p.rows[number]
        lines = [f"{row.module} ({row.application}): {status_label(row.status)}"
                 + (f" · {row.reason}" if row.reason and row.reason not in (row.message or "") else "")]
        if row.message:
            lines.append(row.message)
        hint = item_hint(p.kind, row.status, row.reason)
        if hint:
            lines.append(hint)
        if row.frontends:
            lines.append(f"On the front-ends: {frontends_text(row.frontends)}")
        repeated = row.module in p.repeated_failures and row.status == ItemStatus.FAILED
        if repeated:
            lines.append(f"{row.module} failed in this Deploy All and in the one before: Publish solution "
                         "compiles it again from its stored source and deploys it.")
            self.solution_button.setText(f"Publish solution for {row.module}…")
        self.solution_button.setVisible(repeated)
        self.item_detail.setText("\n".join(lines))

    def _show_blocked(self, number: int | None) -> None:
        """The consumers that the selected failure (or the failure that blocked the selection) blocked."""
        self.blocked.clear()
        p = self.progress
        producer = None
        if p is not None and number is not None and number < len(p.rows):
            row = p.rows[number]
            if row.status == ItemStatus.FAILED:
                producer = row.module
            elif row.status == ItemStatus.BLOCKED and row.reason:
                producer = blocking_producer(row.reason)
        chain = blocked_by(p.rows, producer) if p is not None and producer else []
        self.views.setTabText(BLOCKED_TAB, f"&Blocked ({len(chain)})" if chain else "&Blocked")
        if producer is None:
            self.blocked.addItem("Select a failed module to see the consumers it blocked.")
            return
        if not chain:
            self.blocked.addItem(f"{producer} blocked no consumer in this run.")
            return
        head = QListWidgetItem(f"{producer} failed, so {plural(len(chain), 'consumer')} were not attempted:")
        head.setFlags(Qt.ItemFlag.NoItemFlags)
        self.blocked.addItem(head)
        for n in chain[:BLOCKED_SHOWN]:
            item = QListWidgetItem(status_icon(ItemStatus.BLOCKED), f"{p.rows[n].module} ({p.rows[n].application})")  # type: ignore[union-attr]
            item.setData(Qt.ItemDataRole.UserRole, n)
            self.blocked.addItem(item)
        if len(chain) > BLOCKED_SHOWN:
            self.blocked.addItem(f"… and {len(chain) - BLOCKED_SHOWN} more (Failures only lists them all)")

    def _on_blocked_chosen(self, item: QListWidgetItem) -> None:
        number = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(number, int):
            self.select_row(number)

    def select_row(self, number: int) -> None:
        """Make a module of the run the table's current row (from the timeline or the blocked list)."""
        index = self.proxy.mapFromSource(self.model.index(number, 0))
        if not index.isValid():  # filtered out: show every module again
            self.filter_edit.clear()
            self.problems_only.setChecked(False)
            index = self.proxy.mapFromSource(self.model.index(number, 0))
        self.table.setCurrentIndex(index)
        self.table.scrollTo(index)

    def _show_problems_only(self, on: bool) -> None:
        self.proxy.set_problems_only(on)
        status = self.model.column_index("Status")
        if on:  # failures first, then what they blocked
            self.table.sortByColumn(status, Qt.SortOrder.AscendingOrder)
        elif self.table.horizontalHeader().sortIndicatorSection() == status:
            self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
            self.proxy.sort(-1)  # back to the run's own order

    def update_actions(self) -> None:
        p = self.progress
        running = p is not None and p.running
        self.cancel_action.setEnabled(running)
        self.cancel_action.setToolTip(
            "Stop the run: modules already deploying finish, the rest are cancelled" if running
            else "the run shown here is not in progress" if p is not None else "no run is shown here")
        reason = self._why_not_again()
        self.again_action.setEnabled(reason is None)
        self.again_action.setToolTip(reason or "Deploy again the modules that did not deploy in this run")
        rollback_reason = self._why_no_rollback()
        self.rollback_action.setEnabled(rollback_reason is None)
        self.rollback_action.setToolTip(rollback_reason or "Make live again what was live before this run")
        exportable = p is not None and self._loading is None
        for act in (self.json_action, self.csv_action):
            act.setEnabled(exportable)

    def _why_not_again(self) -> str | None:
        p = self.progress
        if p is None or not p.deploys:
            return "Deploy again applies to deployment runs"
        if p.running:
            return "The run is still in progress"
        if p.status not in DEPLOY_AGAIN_STATUSES:
            return "The run finished without errors"
        left = [row.module for row in p.rows if row.status in AGAIN_ITEM_STATUSES]
        if left and all(_deployed_now(self.modules, name) for name in left):
            return "Every module this run did not deploy has been deployed since"
        active = self.session.tracker.newest_active()
        if active is not None:
            return f"Run {active.run_id} ({active.kind}) is in progress"
        return None

    def _why_no_rollback(self) -> str | None:
        p = self.progress
        if p is None:
            return "no run is shown here"
        if p.running:
            return "The run is still in progress"
        if p.kind not in ROLLBACK_KINDS:
            return f"A {p.kind} run makes nothing live: there is nothing to roll back"
        active = self.session.tracker.newest_active()
        if active is not None:
            return f"Run {active.run_id} ({active.kind}) is in progress"
        if self.session.controller.awaiting_run_id():
            return "A run is starting"
        return None

    def find_in_log(self, text: str, backward: bool = False) -> bool:
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        if not text:
            return False
        if self.log.find(text, flags):
            return True
        cursor = self.log.textCursor()  # wrap around once
        cursor.movePosition(cursor.MoveOperation.End if backward else cursor.MoveOperation.Start)
        self.log.setTextCursor(cursor)
        return self.log.find(text, flags)

    # -- acting -------------------------------------------------------------------------------

    def request_cancel(self) -> None:
        p = self.progress
        if p is None or not p.running:
            return
        question = f"Stop run {p.run_id}? Modules already deploying finish; the others are marked cancelled."
        reply = self.session.notifier.ask("Cancel run", question, "Stop the run",
                                          withdrawn_by=self.session.tracker.ended,
                                          applies=lambda ended: ended.run_id == p.run_id)
        if reply is Reply.YES and p.running:
            self.session.controller.cancel_run(p.run_id, PANE)
        elif not p.running:
            self.session.notifier.info(f"Run {p.run_id} ended ({p.status}) before it was stopped", PANE)

    def request_deploy_again(self) -> None:
        p = self.progress
        if p is None or self._why_not_again() is not None:
            return
        if p.kind == RunKind.DEPLOY_ALL:
            self._deploy_all()
            return
        names = [row.module for row in p.rows if row.status in AGAIN_ITEM_STATUSES]
        question = f"Deploy again {plural(len(names), 'module')} that did not deploy in run {p.run_id}?"
        if names and self.session.notifier.confirm("Deploy again", question, "Deploy"):
            self.session.controller.deploy_modules(names, PANE)

    def request_rollback(self) -> None:
        p = self.progress
        if p is None or self._why_no_rollback() is not None:
            return
        request_rollback(self.session, PANE, run_id=p.run_id)

    def request_solution_for_item(self) -> None:
        number = self._current_row()
        p = self.progress
        if p is None or number is None or number >= len(p.rows):
            return
        module = p.rows[number].module
        question = (f"Publish solution for {module}? Its latest version is compiled again from its stored source "
                    "for the current platform and deployed, with the modules it needs first.")
        if self.session.notifier.confirm("Publish solution", question, "Publish solution"):
            self.session.controller.publish_solution([module], PANE)

    def request_export(self, kind: str) -> None:
        if self.progress is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, f"Export run {self.progress.run_id}",
                                              str(self.export_start(f".{kind}")),
                                              "JSON (*.json)" if kind == "json" else "CSV (*.csv)")
        if path:
            self.export(Path(path))

    def export_start(self, suffix: str) -> Path:
        """Where the export dialog opens: the folder of the last export, else the user's documents."""
        run_id = self.progress.run_id if self.progress else 0
        folder = Path(str(app_settings().value(EXPORT_FOLDER_KEY, "") or ""))
        if not folder.is_absolute() or not folder.is_dir():
            folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
                          or Path.home())
        return folder / f"run-{run_id}{suffix}"

    def export(self, path: Path) -> None:
        """Write the run as recorded (JSON, or CSV by the suffix), on a job thread."""
        if self.progress is None:
            return
        run_id = self.progress.run_id

        def work() -> Path:
            export_run(views.run_detail(self.session.ctx, run_id), path)
            return path

        def done(result: JobResult) -> None:
            if result.ok:
                app_settings().setValue(EXPORT_FOLDER_KEY, str(path.parent))
                self.session.notifier.info(f"Run {run_id} exported to {path}")
            else:
                self.session.notifier.error(f"Could not export run {run_id}: {result.error_text}", PANE)

        self.session.jobs.submit("export", work, done)
