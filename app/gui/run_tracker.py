"""Every active run the window knows about, whoever started it, and what each batch changed.

Runs of this window come from the bridge already folded (``run_folding``): built rows, the
newest state of each row that moved, log lines; applying them here is a pass over the changed
rows. Runs of other processes come from what the watcher polled. Either way the panes hear the
same signals: ``started``, ``updated`` (rows to repaint, at once), ``ended``, and ``ticked``, one
clock for every figure the window shows about runs (bars, counts, the report's row), so that no
two of them ever disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from PySide6.QtCore import QObject, Signal

from app.engine.events import Event, ItemSnapshot, RunFinished
from app.engine.read.queries import RunChanges
from app.engine.read.views import ActiveRun, RunItemView
from app.engine.vocabulary import ItemStatus, RunStatus
from app.gui.memory import settle_long_lived
from app.gui.run_folding import RowChanges, RunBatch, RunFolder
from app.gui.run_progress import ItemRow, RunProgress, RunUpdate
from app.gui.widgets import Throttle

KEEP_FINISHED = 5
TICK_MS = 200  # progress bars repaint synchronously: a few updates a second suffice


class RunTracker(QObject):
    started = Signal(object)  # RunProgress
    updated = Signal(object)  # RunUpdate
    ended = Signal(object)  # RunProgress
    ticked = Signal()  # figures of the active runs moved: shown everywhere at this same moment

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runs: dict[int, RunProgress] = {}
        self._tick = Throttle(TICK_MS, self.ticked.emit, self)

    def active(self) -> list[RunProgress]:
        return [p for p in self.runs.values() if p.running]

    def newest_active(self) -> RunProgress | None:
        active = self.active()
        return max(active, key=lambda p: p.run_id) if active else None

    def ended_ids(self) -> set[int]:
        """The runs seen to end (the last few): a poll read before an end may still name them."""
        return {p.run_id for p in self.runs.values() if not p.running}

    def external_since(self) -> dict[int, datetime | None]:
        """Runs of other processes still followed, with where their last poll stopped."""
        return {p.run_id: p.seen_until for p in self.active() if not p.own}

    # -- runs of this window ----------------------------------------------------------------

    def apply_batches(self, batches: Iterable[RunBatch]) -> None:
        """What the bridge folded since its last batch, run by run."""
        touched: dict[int, set[int]] = {}
        ended: list[RunProgress] = []
        for batch in batches:
            for step in batch.steps:
                if isinstance(step, RunProgress):
                    self._begin(step)
                    settle_long_lived()  # the run's rows live as long as the run is shown
                    touched.setdefault(step.run_id, set())
                    continue
                progress = self.runs.get(batch.run_id)
                if progress is None or not progress.running:
                    continue
                rows = touched.setdefault(batch.run_id, set())
                if isinstance(step, RowChanges):
                    rows.update(progress.apply_states(step.states))
                    progress.note_lines(step.lines)
                    continue
                row = progress.apply_event(step)
                if row is not None:
                    rows.add(row)
                if isinstance(step, RunFinished):
                    ended.append(progress)
        self._publish(touched, ended)

    def apply_events(self, events: Iterable[Event]) -> None:
        """Events of this window's runs applied here and now: folded, then applied as one batch."""
        folder = RunFolder(self.runs)
        for event in events:
            folder.fold(event)
        self.apply_batches(folder.take())

    # -- runs of other processes --------------------------------------------------------------

    def apply_polled(self, active: Iterable[ActiveRun], changes: Mapping[int, RunChanges], own: set[int]) -> None:
        by_id = {run.id: run for run in active}
        touched: dict[int, set[int]] = {}
        ended: list[RunProgress] = []
        for run_id, change in changes.items():
            if run_id in own:
                continue
            progress = self.runs.get(run_id)
            if progress is None:
                if run_id not in by_id:
                    continue
                progress = self._begin(_from_poll(by_id[run_id], change))
            elif not progress.running or progress.own:
                continue
            rows = touched.setdefault(run_id, set())
            rows.update(r for r in (progress.apply_item(item) for item in change.items) if r is not None)
            progress.seen_until = change.seen_until
            if change.status != RunStatus.RUNNING:
                progress.finish(change.status, change.finished_at)
                ended.append(progress)
        self._publish(touched, ended)

    # -- shared -------------------------------------------------------------------------------

    def _begin(self, progress: RunProgress) -> RunProgress:
        self.runs[progress.run_id] = progress
        self.started.emit(progress)
        return progress

    def _publish(self, touched: dict[int, set[int]], ended: list[RunProgress]) -> None:
        for run_id, rows in touched.items():
            self.updated.emit(RunUpdate(run_id, tuple(sorted(rows))))
        if touched:
            self._tick.poke()
        for progress in ended:
            self.ended.emit(progress)
        if ended:
            self._forget_old()
            self.ticked.emit()  # final figures at once, not a tick later

    def _forget_old(self) -> None:
        finished = sorted((p.run_id for p in self.runs.values() if not p.running), reverse=True)
        for run_id in finished[KEEP_FINISHED:]:
            del self.runs[run_id]


def _from_poll(run: ActiveRun, change: RunChanges) -> RunProgress:
    rows = [ItemRow.of(_as_started(item)) for item in change.items]
    progress = RunProgress(run.id, run.kind, run.started_by, run.started_at, rows, own=False)
    progress.note(f"run {run.id} ({run.kind}) was started by {run.started_by} in another process", run.started_at)
    return progress


def _as_started(item: RunItemView) -> ItemSnapshot:
    """How a polled item looked when its run started: skipped with its reason, or still to do."""
    if item.status == ItemStatus.SKIPPED:
        return ItemSnapshot(item.module, item.application, item.version, item.status, item.reason, item.message)
    return ItemSnapshot(item.module, item.application, item.version, ItemStatus.PENDING)
