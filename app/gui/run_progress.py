"""One run's state as the window shows it, folded from engine events or from polled rows.

No Qt here: the same object follows a run of this window (from its events), a run of another
process (from what the database says changed) and a finished run (from its detail view).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from itertools import islice

from app.engine.events import (
    Event,
    FrontendPhase,
    FrontendSwitched,
    ItemFinished,
    ItemSnapshot,
    ItemStarted,
    LogLine,
    RolloutPhase,
    RunFinished,
    RunStarted,
)
from app.engine.read.views import RunDetail, RunItemView
from app.engine.vocabulary import FINISHED_ITEM_STATUSES, ItemStatus, RunKind, RunStatus, SkipReason
from app.gui.formatting import clock, count_text, counts_summary, duration, plural, utcnow
from app.gui.pace import Pace
from app.gui.rollout import Rollout

LOG_LIMIT = 20_000
FINISHED = FINISHED_ITEM_STATUSES
PROBLEMS = frozenset({ItemStatus.FAILED, ItemStatus.BLOCKED})
# Items a run attempted and finished: what its progress counts as done (not the cancelled ones).
ATTEMPTED = FINISHED - {ItemStatus.SKIPPED, ItemStatus.CANCELLED}
DEPLOYING = ItemStatus.DEPLOYING
COMPILE_FAILURE = SkipReason.COMPILATION_FAILED  # a compiling run's reason for a module that did not compile


@dataclass(slots=True)
class ItemRow:
    """One module of a run: the engine's snapshot of it when the run started, and where it is now.

    Mutable, so that a table row is updated in place; ``item`` keeps who the module is.
    """

    item: ItemSnapshot
    status: str
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    seconds: float | None = None
    finished_at: datetime | None = None
    frontends: Mapping[str, str] | None = None  # front-end name -> what it holds (once recorded)

    @classmethod
    def of(cls, item: ItemSnapshot) -> ItemRow:
        return cls(item, item.status, item.reason, item.message)

    @property
    def module(self) -> str:
        return self.item.module

    @property
    def application(self) -> str:
        return self.item.application

    @property
    def version(self) -> int | None:
        return self.item.version

    @property
    def detail(self) -> str:
        if self.message and self.reason and self.reason not in self.message and self.status != ItemStatus.DEPLOYED:
            return f"{self.reason}: {self.message}"
        return self.message or self.reason or ""


@dataclass(slots=True)
class ItemState:
    """Where one module of a run got to, as its events since the last batch say (see run_folding).

    Mutable while it is being folded on the bridge's side; handed to the GUI thread once done.
    """

    status: str
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    seconds: float | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class RunUpdate:
    """What one batch changed in a run: its row numbers (new log lines: ``lines_since``)."""

    run_id: int
    rows: tuple[int, ...]


class RunProgress:
    """Items, counts, timings and log of one run."""

    def __init__(
        self,
        run_id: int,
        kind: str,
        started_by: str,
        started_at: datetime,
        rows: list[ItemRow],
        *,
        own: bool,
        status: str = RunStatus.RUNNING,
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
        self.skipped_at_start = self.counts[ItemStatus.SKIPPED]
        self.deploying: dict[int, None] = {n: None for n, r in enumerate(rows) if r.status == DEPLOYING}
        self.waves: dict[str, FrontendSwitched] = {}  # a rolling run's front-ends, in the order they switched
        self.phases: dict[str, FrontendPhase] = {}  # where each front-end stands in the switch, as it goes
        self.failed_on: set[str] = set()  # front-ends where a hook or check failed
        self.repeated_failures: frozenset[str] = frozenset()  # failed in this Deploy All and the one before
        self.rollout: Rollout | None = None  # a rolling run's phases (runs of this window)
        self._pace = Pace()
        # Whether any row knows what each front-end holds: until then there is nothing to tally,
        # and a tally of 10,000 rows on every batch of a run held the window for a third of it.
        self.frontends_recorded = any(row.frontends is not None for row in rows)

    # -- building ---------------------------------------------------------------------------

    @classmethod
    def from_started(cls, event: RunStarted, *, own: bool = True) -> RunProgress:
        rows = [ItemRow.of(item) for item in event.items]
        progress = cls(event.run_id, event.kind, event.started_by, event.started_at, rows, own=own)
        if event.switch_order:
            progress.rollout = Rollout(event.started_at, event.switch_order)
        progress.note(
            f"run {event.run_id} ({event.kind}) started by {event.started_by}: "
            f"{count_text(progress.total)} module(s) to do, {count_text(progress.skipped_at_start)} skipped"
        )
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
            self.note(item_line(view.module, view.status, view.reason, view.message, view.seconds), view.finished_at)
        if self.status != RunStatus.RUNNING:
            self.note(
                f"run {self.run_id} {self.status}: {counts_summary(self.counts)}"
                + (f" ({self.message})" if self.message else ""),
                self.finished_at,
            )

    # -- updating ---------------------------------------------------------------------------

    def apply_event(self, event: Event) -> int | None:
        """Fold one event in; returns the changed row, if any.

        Item events and log lines usually arrive folded already (``apply_states`` and
        ``note_lines``): the window folds them before they reach its thread.
        """
        if isinstance(event, ItemStarted):
            return self._set(event.module, DEPLOYING, started_at=event.at)
        if isinstance(event, ItemFinished):
            row = self._set(
                event.module, event.status, event.reason, event.message, seconds=event.seconds, finished_at=utcnow()
            )
            self.note(item_line(event.module, event.status, event.reason, event.message, event.seconds))
            return row
        if isinstance(event, FrontendSwitched):
            self.waves[event.frontend] = event
            if self.rollout is not None:
                self.rollout.frontend_done(event.frontend, event.problem, event.at or utcnow())
            self.note(f"front-end {event.frontend}: {wave_text(event)}")
        elif isinstance(event, FrontendPhase):
            self.phases[event.frontend] = event
            if self.rollout is not None:
                self.rollout.begin(event)
            if event.phase == RolloutPhase.FAILED:
                self.failed_on.add(event.frontend)
            self.note(f"front-end {event.frontend}: {phase_text(event, event.at)}", event.at)
        elif isinstance(event, LogLine) and event.level != "error":  # errors repeat a failed item
            self.note(f"{event.level}: {event.text}", event.at)
        elif isinstance(event, RunFinished):
            self.finish(event.status)
        return None

    def apply_item(self, view: RunItemView) -> int | None:
        """A row as the database has it now (runs of other processes)."""
        row = self._set(
            view.module, view.status, view.reason, view.message, view.started_at, view.seconds, view.finished_at
        )
        self.note_frontends(view)
        if row is not None and view.status in FINISHED and view.status != ItemStatus.SKIPPED:
            self.note(item_line(view.module, view.status, view.reason, view.message, view.seconds), view.finished_at)
        return row

    def finish(self, status: str, finished_at: datetime | None = None) -> None:
        self.status = status
        self.finished_at = finished_at or utcnow()
        if self.rollout is not None:
            self.rollout.end(self.finished_at)
        self.note(f"run {self.run_id} {status}: {counts_summary(self.counts)}")

    def apply_states(self, states: Mapping[int, ItemState]) -> list[int]:
        """Rows as their folded events left them (row number -> state); returns those that changed."""
        changed = []
        for number, s in states.items():
            if self._set_row(number, s.status, s.reason, s.message, s.started_at, s.seconds, s.finished_at) is not None:
                changed.append(number)
        return changed

    def _set(
        self,
        module: str,
        status: str,
        reason: str | None = None,
        message: str | None = None,
        started_at: datetime | None = None,
        seconds: float | None = None,
        finished_at: datetime | None = None,
    ) -> int | None:
        number = self.index.get(module.casefold())
        if number is None:
            return None
        return self._set_row(number, status, reason, message, started_at, seconds, finished_at)

    def _set_row(
        self,
        number: int,
        status: str,
        reason: str | None,
        message: str | None,
        started_at: datetime | None,
        seconds: float | None,
        finished_at: datetime | None,
    ) -> int | None:
        row = self.rows[number]
        if row.status == status and status != DEPLOYING:
            return None  # already known: polls see a finished row more than once
        self.counts[row.status] -= 1
        self.counts[status] += 1
        row.status = status
        row.reason, row.message = reason or row.reason, message or row.message
        row.started_at = started_at or row.started_at
        row.seconds = seconds if seconds is not None else row.seconds
        if status == DEPLOYING:
            self.deploying[number] = None
        else:
            self.deploying.pop(number, None)
            if status in FINISHED:
                row.finished_at = finished_at or _end_of(row) or utcnow()
        return number

    def note_frontends(self, view: RunItemView) -> int | None:
        """What each front-end holds of the item's module, as recorded; returns its row."""
        number = self.index.get(view.module.casefold())
        if number is None or view.frontends is None:
            return None
        self.rows[number].frontends = dict(view.frontends)
        self.frontends_recorded = True
        return number

    def note(self, text: str, at: datetime | None = None) -> None:
        self.log.append(log_line(text, at))
        self.lines_noted += 1

    def note_lines(self, lines: list[str]) -> None:
        """Lines already made by ``log_line``, in order."""
        self.log.extend(lines)
        self.lines_noted += len(lines)

    def lines_since(self, noted: int) -> list[str]:
        """The lines noted after the first ``noted`` ones (as many as the log still holds)."""
        count = min(self.lines_noted - noted, len(self.log))
        return list(islice(self.log, len(self.log) - count, None)) if count > 0 else []

    # -- reading ----------------------------------------------------------------------------

    @cached_property
    def held(self) -> list[str]:
        """The modules the run holds, casefolded: every one it did not skip as it started.

        Made once, where the run's rows are built (off the GUI thread for a run of this window).
        """
        return [row.item.module.casefold() for row in self.rows if row.item.status != ItemStatus.SKIPPED]

    @property
    def running(self) -> bool:
        return self.status == RunStatus.RUNNING

    @property
    def total(self) -> int:
        """Modules the run works on (the ones skipped by the plan are not work)."""
        return len(self.rows) - self.skipped_at_start

    @property
    def done(self) -> int:
        """Modules the run attempted and finished; the cancelled ones were never attempted."""
        return sum(n for status, n in self.counts.items() if status in ATTEMPTED)

    @property
    def cancelled(self) -> int:
        return self.counts[ItemStatus.CANCELLED]

    @property
    def deploys(self) -> bool:
        """A run that makes modules live (not an upgrade's preparation, not a publish's compile)."""
        return RunKind(self.kind).traits.deploys_prepared

    def progress_text(self) -> str:
        """The one wording of a run's progress, for every bar that shows it; a rolling run's names
        its phase: staging, then the front-end being switched or checked."""
        switching = self.rollout.switching_text() if self.rollout is not None and self.running else None
        if switching is not None:
            return f"{switching[0].upper()}{switching[1:]}: {count_text(self.done)} staged everywhere"
        staging = self.rollout is not None and self.rollout.staging and self.running
        text = f"{'Staging: ' if staging else ''}{count_text(self.done)} / {count_text(self.total)} done"
        return text + (f", {count_text(self.cancelled)} cancelled" if self.cancelled else "")

    def short_progress_text(self) -> str:
        """The same, short enough for the status bar's small bar."""
        rollout = self.rollout
        if rollout is not None and self.running and not rollout.staging:
            return f"Switching {len(rollout.finished) + 1} of {len(rollout.order)}"
        staging = "Staging " if rollout is not None and self.running else ""
        return f"{staging}{count_text(self.done)} / {count_text(self.total)}"

    def bar(self) -> tuple[int, int]:
        """Value and maximum of the run's progress bar: its modules, then a rolling run's front-ends."""
        rollout = self.rollout
        if rollout is not None and self.running and not rollout.staging:
            return len(rollout.finished), max(1, len(rollout.order))
        return (self.done if self.total else 1), max(self.total, 1)

    def now_deploying(self) -> list[ItemRow]:
        return [self.rows[n] for n in self.deploying]

    @property
    def problems(self) -> int:
        return sum(self.counts[s] for s in PROBLEMS)

    def elapsed(self, now: datetime | None = None) -> float:
        end = self.finished_at if not self.running and self.finished_at else (now or utcnow())
        return max(0.0, (end - self.started_at).total_seconds())

    def eta(self, now: datetime | None = None) -> float | None:
        """Seconds left of the modules' work, at the pace of the last few seconds."""
        if not self.running:
            return None
        self._pace.note((now or utcnow()).timestamp(), self.done)
        return self._pace.remaining(self.total - self.done)

    def remaining_text(self, now: datetime | None = None) -> str:
        """What is left, in words: "about 12 s", and for a rolling run, the switch that follows."""
        eta = self.eta(now)
        rollout = self.rollout
        if rollout is None or not self.running:
            return f"about {duration(eta)}" if eta is not None else ""
        left = len(rollout.order) - len(rollout.finished)
        if rollout.staging:
            then = f"then {plural(left, 'front-end')} {'switches' if left == 1 else 'switch one at a time'}"
            return f"about {duration(eta)} to stage, {then}" if eta is not None else then.capitalize()
        each = rollout.seconds_per_frontend()
        return f"about {duration(each * left)}, one front-end at a time" if each is not None and left else ""


def _finish_time(view: RunItemView) -> float:
    return view.finished_at.timestamp() if view.finished_at else 0.0


def _row_of(view: RunItemView) -> ItemRow:
    item = ItemSnapshot(view.module, view.application, view.version, view.status, view.reason, view.message)
    return ItemRow(
        item,
        view.status,
        view.reason,
        view.message,
        view.started_at,
        view.seconds,
        view.finished_at,
        dict(view.frontends) if view.frontends is not None else None,
    )


def _end_of(row: ItemRow) -> datetime | None:
    if row.started_at is None or row.seconds is None:
        return None
    return row.started_at + timedelta(seconds=row.seconds)


def log_line(text: str, at: datetime | None = None) -> str:
    """One line of a run's log: its time, then what happened."""
    return f"{clock(at or utcnow())}  {text}"


def item_line(module: str, status: str, reason: str | None, message: str | None, seconds: float | None) -> str:
    """What the log says of a module that finished."""
    why = ""
    if status in PROBLEMS or status == ItemStatus.CANCELLED:
        why = f": {message or reason}" if (message or reason) else ""
    took = f" ({duration(seconds)})" if seconds else ""
    return f"{module}: {status}{why}{took}"


def compile_failures(progress: RunProgress) -> int:
    """How many of a compiling run's failed items failed to compile (the counts by status do not say)."""
    traits = RunKind(progress.kind).traits
    if not (traits.compiles and traits.switches) or not progress.counts[ItemStatus.FAILED]:
        return 0
    return sum(1 for row in progress.rows if row.status == ItemStatus.FAILED and row.reason == COMPILE_FAILURE)


def wave_text(wave: FrontendSwitched) -> str:
    """One front-end of a rolling run: how many modules switched there, and its health check."""
    switched = f"{plural(wave.modules, 'module')} switched"
    if wave.problem is not None:
        return f"{switched}, health check failed: {wave.problem}" if wave.checked else f"failed: {wave.problem}"
    return f"{switched}, health check passed" if wave.checked else f"{switched}, no health check"


def soak_left(phase: FrontendPhase, now: datetime | None = None) -> float | None:
    """Seconds left in a soak that ``phase`` began; None when it is not a soak."""
    if phase.phase != RolloutPhase.SOAKING or phase.seconds is None:
        return None
    return max(0.0, phase.seconds - ((now or utcnow()) - phase.at).total_seconds())


def phase_text(phase: FrontendPhase, now: datetime | None = None) -> str:
    """Where one front-end stands, e.g. "soaking, 25 s left", "switched back: <the check that failed>"."""
    left = soak_left(phase, now)
    if left is not None:
        return f"soaking, {duration(left)} left of {duration(phase.seconds)}"
    words = {RolloutPhase.HEALTH: "checking its health", RolloutPhase.SWITCHING: "switching"}
    text = words.get(phase.phase, phase.phase.value)
    return f"{text}: {phase.problem}" if phase.problem else text


def frontends_text(frontends: Mapping[str, str]) -> str:
    """What each front-end holds of a module, e.g. "web1 live, web2 switched back"."""
    return ", ".join(f"{name} {state}" for name, state in sorted(frontends.items()))


BLOCKED_REASON = "producer {} failed"  # the engine's reason for a blocked item: it names the root failure


def blocked_by(rows: Sequence[ItemRow], producer: str) -> list[int]:
    """Rows the failure of ``producer`` blocked, direct and indirect (the engine names the root)."""
    reason = BLOCKED_REASON.format(producer)
    return [n for n, row in enumerate(rows) if row.status == ItemStatus.BLOCKED and row.reason == reason]


def blocking_producer(reason: str) -> str | None:
    """The failed producer a blocked item's reason names, if it is the engine's wording."""
    head, _, tail = BLOCKED_REASON.partition("{}")
    if reason.startswith(head) and reason.endswith(tail) and len(reason) > len(head) + len(tail):
        return reason[len(head) : len(reason) - len(tail)]
    return None
