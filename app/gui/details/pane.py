"""The Deployment Details pane: one run, live: progress, per-module table, timeline, log, and what
can be done with the run.

The pane decides which run it shows (a run of this window or another process as it goes, else
a recorded one, read on a job thread), follows the run tracker's signals, lays its parts out
and keeps the table's filters. Its parts each own their widgets: the head with the run's
progress (details_header), the run's actions (details_actions), the selected module and the
consumers its failure blocked (details_item), the timeline (timeline) and the log (run_log).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.engine.context import EnvironmentContext
from app.engine.gc_pause import gc_paused
from app.engine.read import views
from app.engine.vocabulary import ItemStatus, RunKind
from app.gui.controller import Operation, OperationResult
from app.gui.details.actions import RunActions
from app.gui.details.header import RunHeader
from app.gui.details.item import ItemPanel
from app.gui.details.items_model import RunItemsModel
from app.gui.details.log import RunLog
from app.gui.filters import RunItemFilter
from app.gui.formatting import count_text
from app.gui.jobs import JobResult
from app.gui.modules.model import ModulesModel
from app.gui.run_progress import RunProgress, RunUpdate
from app.gui.session import GuiSession
from app.gui.timeline.widget import RunTimeline
from app.gui.widgets import PANE_MARGINS, FloatingMessageBar, table_view

PANE = "details"
NOW_DEPLOYING_SHOWN = 8
BLOCKED_TAB = 2
ACTIONS_DELAY_MS = 100
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


class DetailsPane(QWidget):
    def __init__(
        self,
        session: GuiSession,
        modules: ModulesModel,
        deploy_all: Callable[[], object],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._modules = modules
        self.progress: RunProgress | None = None
        self._lines_shown = 0
        self._loading: int | None = None
        self.model = RunItemsModel(self)
        self.proxy = RunItemFilter(self)
        self.proxy.setSourceModel(self.model)
        self.run_actions = RunActions(session, modules, deploy_all, self)
        self._build()
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._show_progress)
        session.tracker.started.connect(self._on_run_started)
        session.tracker.updated.connect(self._on_run_updated)
        session.tracker.ended.connect(self._on_run_ended)
        session.tracker.ticked.connect(self._on_tick)
        session.controller.busy_changed.connect(self.run_actions.update)
        session.controller.run_starting.connect(self._on_run_starting)
        session.controller.finished.connect(self._on_operation_done)
        self._starting: Operation | None = None  # a run asked for and shown as starting, not recorded yet
        self._before_start: RunProgress | None = None  # shown again if that run never starts
        self._actions_soon = QTimer(self)  # Deploy again looks at the Modules rows: once per burst of changes
        self._actions_soon.setSingleShot(True)
        self._actions_soon.setInterval(ACTIONS_DELAY_MS)
        self._actions_soon.timeout.connect(self.run_actions.update)
        for signal in (modules.dataChanged, modules.modelReset):
            signal.connect(self._actions_soon.start)
        self.show_progress(None)

    def _build(self) -> None:
        self.message_bar = FloatingMessageBar(self)
        self.header = RunHeader()
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
        self.item = ItemPanel(self.session, self.table, self.proxy, self._modules, self)
        splitter = QSplitter(Qt.Orientation.Vertical)
        table_box = QWidget()
        table_layout = QVBoxLayout(table_box)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addLayout(filters)
        table_layout.addWidget(self.now_deploying)
        table_layout.addWidget(self.table, 1)
        self.item.add_to(table_layout)
        splitter.addWidget(table_box)
        splitter.addWidget(self._build_views())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(*PANE_MARGINS)
        layout.addWidget(self.message_bar.slot)  # kept for messages: they never push the rows down
        layout.addWidget(self.header)
        layout.addLayout(self.run_actions.buttons())
        layout.addWidget(splitter, 1)

    def _build_views(self) -> QTabWidget:
        """Below the table: the run's timeline, its log, and what the selected failure blocked."""
        self.timeline = RunTimeline()
        self.timeline.row_clicked.connect(self.select_row)
        self.item.row_chosen.connect(self.select_row)
        self.log = RunLog()
        self.views = QTabWidget()
        self.views.setAccessibleName("Run views")
        self.views.addTab(self.timeline, "&Timeline")
        self.views.addTab(self.log, "&Log")
        self.views.addTab(self.item.blocked, "&Blocked")
        self.views.currentChanged.connect(lambda _n: self.timeline.update())
        return self.views

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
        self._read(run_id)
        self.header.show_reading(run_id)
        self.session.jobs.submit(
            "run detail", lambda: _read_run(self.session.ctx, run_id), lambda result: self._loaded(run_id, result)
        )

    def _loaded(self, run_id: int, result: JobResult) -> None:
        if self._loading != run_id:
            return  # another run was chosen meanwhile
        self._read(None)
        if not result.ok:
            self.session.notifier.error(result.error_text, PANE)
            return
        self.show_progress(result.value)

    def _read(self, run_id: int | None) -> None:
        """The run whose record is being read (None: none); nothing is exported meanwhile."""
        self._loading = run_id
        self.run_actions.reading = run_id is not None

    def show_progress(self, progress: RunProgress | None) -> None:
        if progress is None or self.progress is None or progress.run_id != self.progress.run_id:
            self.problems_only.setChecked(False)  # a choice made for one run, not for the next
        self.progress = progress
        self.run_actions.show(progress)
        self.model.show(progress)
        self.timeline.show_run(progress)
        self._show_item()
        self.log.show_lines(progress.log if progress else [])
        self._lines_shown = progress.lines_noted if progress else 0
        self.header.show_waves(progress)
        self._show_progress()

    def _read_record(self, progress: RunProgress) -> None:
        """A run of this window ended: read what it recorded that its events did not say."""
        if self.session.closed:
            return
        run_id = progress.run_id
        self.session.jobs.submit(
            RECORD_JOB,
            lambda: _read_record(self.session.ctx, run_id),
            lambda result: self._record_read(progress, result),
        )

    def _record_read(self, progress: RunProgress, result: JobResult) -> None:
        if not result.ok:
            return  # the run stays shown as its events told it; the record is only a complement
        detail, repeated = result.value
        for view in detail.items:
            progress.note_frontends(view)
        progress.repeated_failures = repeated
        if progress is self.progress:
            self._show_item()
            self.header.show_waves(progress)

    def _on_run_starting(self, op: Operation) -> None:
        """A run asked for here: said at once, since its setup can take seconds before it starts."""
        if self.progress is None or not self.progress.running:
            self._starting, self._before_start = op, self.progress
            self.show_progress(None)  # nothing of the run shown before is left beside "starting"
            self.header.show_starting(op.name)

    def _on_operation_done(self, done: OperationResult) -> None:
        if done.operation is self._starting:  # it ended without starting (refused, say): back to the run shown
            self._starting = None
            self.show_progress(self._before_start)

    def _on_run_started(self, progress: RunProgress) -> None:
        # Follow a new run unless another run that is still going is being watched.
        if self.progress is None or not self.progress.running or self.progress.run_id == progress.run_id:
            self._starting = None
            self._read(None)
            self.show_progress(progress)

    def _on_run_updated(self, update: RunUpdate) -> None:
        if self.progress is None or update.run_id != self.progress.run_id:
            return
        self.model.rows_changed(update.rows)
        self.timeline.rows_changed(update.rows)  # drawn at the next tick
        if self.item.current_row() in update.rows:
            self._show_item()
        lines = self.progress.lines_since(self._lines_shown)
        self._lines_shown = self.progress.lines_noted
        if lines:
            self.log.append(lines)
        self.header.show_waves(self.progress)

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
            self.log.scroll_to_end()  # the outcome
        self.run_actions.update()

    # -- showing ------------------------------------------------------------------------------

    def _show_progress(self) -> None:
        p = self.progress
        running = p is not None and p.running
        if running and not self._clock.isActive():
            self._clock.start()
        elif not running:
            self._clock.stop()
        self._show_now_deploying()
        self.header.show_progress(p)
        self.run_actions.update()

    def _show_now_deploying(self) -> None:
        """What deploys now, on one line above the table, for as long as the run goes on."""
        p = self.progress
        running = p is not None and p.running
        now = p.now_deploying() if p is not None and running else []
        names = ", ".join(row.module for row in now[:NOW_DEPLOYING_SHOWN])
        more = f" and {count_text(len(now) - NOW_DEPLOYING_SHOWN)} more" if len(now) > NOW_DEPLOYING_SHOWN else ""
        idle = "Deploying now: nothing, between batches" if running else ""
        text = f"Deploying now: {names}{more}" if now else idle
        metrics = self.now_deploying.fontMetrics()
        width = max(100, self.now_deploying.width())
        self.now_deploying.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, width))
        self.now_deploying.setToolTip(", ".join(row.module for row in now[:200]))
        if self.now_deploying.isVisibleTo(self) != running:
            self.now_deploying.setVisible(running)

    def _show_item(self) -> None:
        """The current module: its bar on the timeline, its message, what its failure blocked."""
        number = self.item.current_row()
        self.timeline.set_current(number)
        chain = self.item.show(self.progress, number)
        self.views.setTabText(BLOCKED_TAB, f"&Blocked ({chain})" if chain else "&Blocked")

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
