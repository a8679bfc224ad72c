"""One run's state as the window shows it, folded from engine events or from polled rows.

No Qt here: the same object follows a run of this window (from its events), a run of another
process (from what the database says changed) and a finished run (from its detail view).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from app.engine.events import (
    Event,
    ItemFinished,
    ItemStarted,
    LogLine,
    RunFinished,
    RunStarted,
)
from app.engine.vocabulary import FINISHED_ITEM_STATUSES
from app.engine.views import RunDetail, RunItemView
from app.gui.formatting import clock, counts_summary, duration, utcnow

LOG_LIMIT = 20_000
FINISHED = FINISHED_ITEM_STATUSES
PROBLEMS = frozenset({"failed", "blocked"})


@dataclass(slots=True)
class ItemRow:
    """One module of a run; mutable so a table row can be updated in place."""

    module: str
    application: str
    version: int | None
    status: str
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    seconds: float | None = None

    @property
    def detail(self) -> str:
        if self.message and self.reason and self.reason not in self.message and self.status != "deployed":
            return f"{self.reason}: {self.message}"
        return self.message or self.reason or ""


@dataclass(frozen=True)
class RunUpdate:
    """What one batch changed in a run: its row numbers (new log lines: ``lines_since``)."""

    run_id: int
    rows: tuple[int, ...]


class RunProgress:
    """Items, counts, timings and log of one run."""

    def __init__(
        self, run_id: int, kind: str, started_by: str, started_at: datetime, rows: list[ItemRow],
        *, own: bool, status: str = "running",
    ) -> None:
        self.run_id = run_id
        self.kind = kind
        self.started_by = started_by
        self.started_at = started_at
        self.rows = rows
        self.own = own
        self.status = status
        self.finished_at: datetime | None = None
        self.message: str | None = None
        self.seen_until: datetime | None = None  # runs of other processes: where the last poll stopped
        self.log: deque[str] = deque(maxlen=LOG_LIMIT)
        self.lines_noted = 0  # every line ever noted, also those the bounded log dropped
        self.index = {row.module.casefold(): n for n, row in enumerate(rows)}
        self.counts = Counter(row.status for row in rows)
        self.skipped_at_start = self.counts["skipped"]

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def from_started(cls, event: RunStarted, *, own: bool = True) -> RunProgress:
        rows = [ItemRow(i.module, i.application, i.version, i.status, i.reason, i.message) for i in event.items]
        progress = cls(event.run_id, event.kind, event.started_by, event.started_at, rows, own=own)
        progress.note(f"run {event.run_id} ({event.kind}) started by {event.started_by}: "
                       f"{progress.total} module(s) to do, {progress.skipped_at_start} skipped")
        return progress

    @classmethod
    def from_detail(cls, detail: RunDetail, *, own: bool = False) -> RunProgress:
        s = detail.summary
        rows = [_row_of(view) for view in detail.items]
        progress = cls(s.id, s.kind, s.started_by, s.started_at, rows, own=own, status=s.status)
        progress.finished_at = s.finished_at
        progress.message = s.message
        progress._replay(detail.items)
        return progress

    def _replay(self, items: Iterable[RunItemView]) -> None:
        self.note(f"run {self.run_id} ({self.kind}) started by {self.started_by}", self.started_at)
        done = [v for v in items if v.finished_at is not None and v.started_at is not None]
        for view in sorted(done, key=_finish_time):
            self.note(_item_line(view.module, view.status, view.reason, view.message, view.seconds), view.finished_at)
        if self.status != "running":
            self.note(f"run {self.run_id} {self.status}: {counts_summary(self.counts)}"
                       + (f" ({self.message})" if self.message else ""), self.finished_at)

    # -- updating ---------------------------------------------------------------------------

    def apply_event(self, event: Event) -> int | None:
        """Fold one event in; returns the changed row, if any."""
        if isinstance(event, ItemStarted):
            return self._set(event.module, "deploying", started_at=event.at)
        if isinstance(event, ItemFinished):
            row = self._set(event.module, event.status, event.reason, event.message, seconds=event.seconds)
            self.note(_item_line(event.module, event.status, event.reason, event.message, event.seconds))
            return row
        if isinstance(event, LogLine) and event.level != "error":  # errors repeat a failed item
            self.note(f"{event.level}: {event.text}", event.at)
        elif isinstance(event, RunFinished):
            self.finish(event.status)
        return None

    def apply_item(self, view: RunItemView) -> int | None:
        """A row as the database has it now (runs of other processes)."""
        row = self._set(view.module, view.status, view.reason, view.message, view.started_at, view.seconds)
        if row is not None and view.status in FINISHED and view.status != "skipped":
            self.note(_item_line(view.module, view.status, view.reason, view.message, view.seconds), view.finished_at)
        return row

    def finish(self, status: str, finished_at: datetime | None = None) -> None:
        self.status = status
        self.finished_at = finished_at or utcnow()
        self.note(f"run {self.run_id} {status}: {counts_summary(self.counts)}")

    def _set(
        self, module: str, status: str, reason: str | None = None, message: str | None = None,
        started_at: datetime | None = None, seconds: float | None = None,
    ) -> int | None:
        number = self.index.get(module.casefold())
        if number is None:
            return None
        row = self.rows[number]
        if row.status == status and status != "deploying":
            return None  # already known: polls see a finished row more than once
        self.counts[row.status] -= 1
        self.counts[status] += 1
        row.status = status
        row.reason, row.message = reason or row.reason, message or row.message
        row.started_at = started_at or row.started_at
        row.seconds = seconds if seconds is not None else row.seconds
        return number

    def note(self, text: str, at: datetime | None = None) -> None:
        self.log.append(f"{clock(at or utcnow())}  {text}")
        self.lines_noted += 1

    def lines_since(self, noted: int) -> list[str]:
        """The lines noted after the first ``noted`` ones (as many as the log still holds)."""
        count = min(self.lines_noted - noted, len(self.log))
        return list(islice(self.log, len(self.log) - count, None)) if count > 0 else []

    # -- reading ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def total(self) -> int:
        """Modules the run works on (the ones skipped by the plan are not work)."""
        return len(self.rows) - self.skipped_at_start

    @property
    def done(self) -> int:
        finished = sum(n for status, n in self.counts.items() if status in FINISHED)
        return max(0, finished - self.skipped_at_start)

    @property
    def problems(self) -> int:
        return sum(self.counts[s] for s in PROBLEMS)

    def elapsed(self, now: datetime | None = None) -> float:
        end = self.finished_at if not self.running and self.finished_at else (now or utcnow())
        return max(0.0, (end - self.started_at).total_seconds())

    def eta(self, now: datetime | None = None) -> float | None:
        if not self.running or self.done == 0 or self.done >= self.total:
            return None
        return self.elapsed(now) / self.done * (self.total - self.done)


def _finish_time(view: RunItemView) -> float:
    return view.finished_at.timestamp() if view.finished_at else 0.0


def _row_of(view: RunItemView) -> ItemRow:
    return ItemRow(view.module, view.application, view.version, view.status, view.reason, view.message,
                   view.started_at, view.seconds)


def _item_line(module: str, status: str, reason: str | None, message: str | None, seconds: float | None) -> str:
    why = ""
    if status in PROBLEMS or status == "cancelled":
        why = f": {message or reason}" if (message or reason) else ""
    took = f" ({duration(seconds)})" if seconds else ""
    return f"{module}: {status}{why}{took}"
