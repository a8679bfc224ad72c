"""A run's events folded where they arrive, so that the GUI thread gets only what changed.

A Deploy All of 10,000 modules reports 20,000 item events; folding each on the GUI thread held
the window for a second and more of a run. ``RunFolder`` does that work on whichever thread
reports the events (the bridge calls it from the engine's threads, under its lock): it builds a
starting run's rows there, keeps for each run the newest state of every row that moved since
the last hand-over (a module that started and finished in between is one change), and makes the
log lines those events say. Every other event is kept as it came, in order, for
``RunProgress.apply_event`` on the GUI thread. ``take`` hands everything over and starts afresh;
nothing handed over is touched here again. No Qt: it runs on any thread and in tests as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.engine.events import Event, ItemFinished, ItemStarted, LogLine, RunFinished, RunStarted
from app.engine.gc_pause import gc_paused
from app.gui.formatting import utcnow
from app.gui.run_progress import DEPLOYING, ItemState, RunProgress, item_line, log_line


@dataclass
class RowChanges:
    """Rows of one run that moved (row number -> newest state), and the log lines they made."""

    states: dict[int, ItemState] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


# One step of a run, in the order it happened: the run begun (its rows built off the GUI
# thread), rows that moved, or an event the GUI thread applies itself.
Step = RunProgress | RowChanges | Event


@dataclass
class RunBatch:
    """What one hand-over holds for one run, in order."""

    run_id: int
    steps: list[Step] = field(default_factory=list)


class RunFolder:
    def __init__(self, known: Mapping[int, RunProgress] | None = None) -> None:
        """``known``: runs already followed elsewhere, whose later events this folder may see."""
        self._known = known or {}
        self._indexes: dict[int, Mapping[str, int]] = {}  # run -> module (casefolded) -> row
        self._pending: dict[int, RunBatch] = {}

    def fold(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            with gc_paused():  # 10,000 rows of small objects, none in a cycle
                progress = RunProgress.from_started(event)
                progress.held  # noqa: B018 - made here, not on the GUI thread that locks them
            self._indexes[event.run_id] = progress.index
            self._batch(event.run_id).steps.append(progress)
            return
        index = self._index(event.run_id)
        if index is not None and isinstance(event, ItemStarted | ItemFinished | LogLine):
            self._fold_item(event, index)
            return
        if isinstance(event, RunFinished):
            self._indexes.pop(event.run_id, None)  # nothing of it comes after this
        self._batch(event.run_id).steps.append(event)

    def take(self) -> list[RunBatch]:
        """Everything folded since the last call, run by run in the order they first reported."""
        batches, self._pending = list(self._pending.values()), {}
        return batches

    def _fold_item(self, event: ItemStarted | ItemFinished | LogLine, index: Mapping[str, int]) -> None:
        changes = self._changes(event.run_id)
        if isinstance(event, LogLine):
            if event.level != "error":  # an error repeats a failed item's own line
                changes.lines.append(log_line(f"{event.level}: {event.text}", event.at))
            return
        number = index.get(event.module.casefold())
        if isinstance(event, ItemFinished):
            changes.lines.append(
                log_line(item_line(event.module, event.status, event.reason, event.message, event.seconds))
            )
        if number is None:
            return
        state = changes.states.get(number)
        if isinstance(event, ItemStarted):
            if state is None:
                changes.states[number] = ItemState(DEPLOYING, started_at=event.at)
            else:
                state.status, state.started_at = DEPLOYING, event.at
            return
        started_at = state.started_at if state is not None else None
        changes.states[number] = ItemState(
            event.status, event.reason, event.message, started_at, event.seconds, finished_at=utcnow()
        )

    def _index(self, run_id: int) -> Mapping[str, int] | None:
        index = self._indexes.get(run_id)
        if index is None and run_id in self._known:
            return self._known[run_id].index
        return index

    def _batch(self, run_id: int) -> RunBatch:
        batch = self._pending.get(run_id)
        if batch is None:
            batch = self._pending[run_id] = RunBatch(run_id)
        return batch

    def _changes(self, run_id: int) -> RowChanges:
        """The run's last step when it is row changes (so they fold on), else a new one after it."""
        steps = self._batch(run_id).steps
        if not steps or not isinstance(steps[-1], RowChanges):
            steps.append(RowChanges())
        last = steps[-1]
        assert isinstance(last, RowChanges)
        return last
