"""Executing a run: dependency order, parallel workers, cancel, heartbeat and batched history.

The coordinator (the thread calling ``RunExecutor.execute``) owns all database writes and all
events; workers only do file work on plain values. Writes are batched so that thousands of
modules cost a handful of transactions. A separate heartbeat thread proves the owner alive and
picks up cancel requests from other processes, whatever the coordinator is busy with.

A failure budget (``--max-failures``) is checked before each module starts: once more modules
than it allows have failed, nothing else starts and the modules not started end ``cancelled``
with reason ``failure-budget``. A batch never holds more modules than could still fail before
the budget is spent, so with one worker the failure past the budget is always the last one.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.engine.errors import DeployCenterError
from app.engine.events import (
    EventSink,
    ItemFinished,
    ItemSnapshot,
    ItemStarted,
    LogLine,
    RunFinished,
    RunStarted,
    guarded,
)
from app.engine.gc_pause import gc_paused
from app.engine.identity import utcnow
from app.engine.runs import records
from app.engine.runs.heartbeat import RunHeartbeat
from app.engine.runs.options import FailureBudget
from app.engine.runs.work import ConcludingWork, RunWork, StopCheck, WorkItem, WorkOutcome
from app.engine.store.database import Database
from app.engine.store.models import RunItemRow, RunRow
from app.engine.vocabulary import FINISHED_ITEM_STATUSES, UNSUCCESSFUL_ITEM_STATUSES, ItemStatus, RunStatus

log = logging.getLogger(__name__)

# What an item that the run's change window left out says.
_STOPPED = {
    "window-closed": "the change window closed before this module started; nothing of it was switched",
    "freeze-started": "a change freeze began before this module started; nothing of it was switched",
}
FAILURE_BUDGET = "failure-budget"  # the reason of the modules a spent failure budget did not start
FLUSH_INTERVAL = 0.25
FLUSH_BATCH = 500
POLL_INTERVAL = 0.1
CANCEL_POLL_INTERVAL = 0.5


@dataclass
class _Pending:
    started: list[tuple[int, datetime]] = field(default_factory=list)
    finished: list[tuple[int, WorkItem[Any], WorkOutcome, datetime]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.started) + len(self.finished)


class RunExecutor:
    """Runs ``work`` over ``items`` in dependency order with ``workers`` threads."""

    def __init__(
        self,
        db: Database,
        run_id: int,
        items: Sequence[WorkItem[Any]],
        work: RunWork[Any],
        *,
        workers: int,
        on_event: EventSink,
        cancel: threading.Event,
        stop: StopCheck | None = None,
        max_failures: FailureBudget | None = None,
    ) -> None:
        self._db = db
        self._stop = stop  # why the run must start no more modules (its change window closed), if ever
        self.stopped_by: str | None = None
        self._run_id = run_id
        self._items = {item.key: item for item in items}
        self._work = work
        self._workers = max(1, workers)
        self._emit = guarded(on_event)
        self._cancel = cancel
        self._pending = _Pending()
        self._item_row_ids: dict[int, int] = {}
        self._started_at: dict[str, float] = {}
        self._statuses: dict[str, ItemStatus] = {}
        self._outcomes: dict[str, WorkOutcome] = {}
        self._last_flush = 0.0
        self._last_cancel_check = time.monotonic()
        self._budget = max_failures
        self._allowed = None if max_failures is None else max_failures.allowed(len(self._items))
        self._failed = 0  # modules failed so far (blocked ones do not count against the budget)
        self.batches = 0  # handed to workers so far, for the run's statistics

    # -- public -----------------------------------------------------------------------------

    def execute(self) -> RunStatus:
        """Work through the run and close it; returns the run's final status."""
        clock = time.monotonic()
        heartbeat = RunHeartbeat(self._db, self._run_id, self._cancel)
        heartbeat.start()
        try:
            self._announce()
            cancelled = self._schedule()
            cancelled = self._conclude(cancelled)
            status = self._final_status(cancelled)
            heartbeat.stop()
            counts, status = self._close(status)
        except BaseException as exc:
            heartbeat.stop()
            self._abandon(exc)
            raise
        self._emit(RunFinished(self._run_id, status, counts, time.monotonic() - clock))
        return status

    # -- scheduling -------------------------------------------------------------------------

    def _schedule(self) -> bool:
        consumers: dict[str, list[str]] = {key: [] for key in self._items}
        waiting: dict[str, set[str]] = {}
        for key, item in self._items.items():
            producers = {p.casefold() for p in item.depends} & self._items.keys()
            producers.discard(key)
            waiting[key] = producers
            for producer in producers:
                consumers[producer].append(key)
        # Most-consumed first: it unblocks the most work for the other workers.
        ready: list[tuple[int, str]] = []
        for key, producers in waiting.items():
            if not producers:
                heapq.heappush(ready, (-len(consumers[key]), key))
        unfinished = set(self._items)
        running: dict[Future[list[WorkOutcome | Exception]], list[str]] = {}
        busy: set[str] = set()
        cancelled = False
        with ThreadPoolExecutor(self._workers, thread_name_prefix=f"run{self._run_id}") as pool:
            while unfinished:
                if not cancelled and self._cancel_requested():
                    cancelled = True
                    self._log("warning", "cancel requested: finishing modules already deploying")
                    for key in sorted(unfinished - busy):
                        self._finish(key, WorkOutcome(ItemStatus.CANCELLED, "cancelled"))
                        unfinished.discard(key)
                    ready.clear()
                    if not unfinished:
                        break
                if not cancelled and self._budget_spent():
                    self._stop_for_budget(unfinished - busy, unfinished)
                    ready.clear()
                if not cancelled and not self.stopped_by and ready and (why := self._deadline_reached()):
                    for key in sorted(unfinished - busy):
                        self._finish(key, WorkOutcome(ItemStatus.CANCELLED, why, _STOPPED.get(why, why)))
                        unfinished.discard(key)
                    ready.clear()
                if not unfinished:
                    break
                while not cancelled and not self.stopped_by and ready and len(running) < self._workers:
                    size = self._batch_size(len(ready), self._workers - len(running))
                    batch = self._take_batch(ready, unfinished, busy, size)
                    if batch:
                        running[self._submit(pool, batch)] = batch
                        busy.update(batch)
                if not running and not ready and unfinished and not cancelled and not self.stopped_by:
                    key = self._break_cycle(unfinished, waiting)
                    heapq.heappush(ready, (0, key))
                    continue
                # Recorded once the next batches are handed out: the workers need not wait for the
                # database (the switches were made durable before a batch reports, or are by record).
                self._maybe_flush()
                done, _ = wait(running, timeout=POLL_INTERVAL, return_when=FIRST_COMPLETED)
                for future in done:
                    batch = running.pop(future)
                    busy.difference_update(batch)
                    for key, outcome in zip(batch, self._outcomes_of(future, len(batch)), strict=True):
                        unfinished.discard(key)
                        self._finish(key, outcome)
                        self._work.note_done(self._items[key], outcome)
                        if outcome.status == ItemStatus.FAILED and self._work.blocks_consumers:
                            self._block_consumers(key, consumers, unfinished)
                        for consumer in consumers[key]:
                            waiting[consumer].discard(key)
                            if consumer in unfinished and not waiting[consumer]:
                                heapq.heappush(ready, (-len(consumers[consumer]), consumer))
        return cancelled

    def _deadline_reached(self) -> str | None:
        """Change control: once the run's window has closed (or a freeze began), no module starts;
        those waiting end ``cancelled`` with that reason, and keep what they had staged."""
        if self._stop is not None:
            self.stopped_by = self._stop()
            if self.stopped_by is not None:
                self._log("warning", f"{self.stopped_by}: starting no more modules; those already going finish")
        return self.stopped_by

    def _conclude(self, cancelled: bool) -> bool:
        """The kind's last step over the whole run, when it has one (a rolling switch); whether the
        run ends cancelled (a cancel may arrive during that step, which then switches back)."""
        if not isinstance(self._work, ConcludingWork):
            return cancelled
        if self._budget_spent():  # switching what was staged would be more work started
            staged = [key for key, outcome in self._outcomes.items() if outcome.status == ItemStatus.STAGED]
            self._stop_for_budget(staged, set(staged))
            return cancelled
        self._flush()  # the record shows every item staged while the last step runs
        done = [(self._items[key], outcome) for key, outcome in self._outcomes.items()]  # in the order they ended
        concluded = self._work.conclude(done, cancelled, self._log)
        for item, outcome in concluded:
            self._finish(item.key, outcome)
            if outcome.status == ItemStatus.CANCELLED and outcome.reason in _STOPPED:
                self.stopped_by = outcome.reason  # its window closed while it switched front-ends
        self._maybe_flush()
        return cancelled or any(outcome.reason == "cancelled" for _item, outcome in concluded)

    def _batch_size(self, ready: int, free: int) -> int:
        """Modules for the next batch: what is ready cut into ``spread`` batches per free worker.

        On a big run a worker's batch waits for the disk three times in all instead of three
        times per module. Small runs go one module at a time, so every worker stays busy and a
        cancel stops them after the modules in hand. A work whose batches cost round trips cuts
        the ready modules into fewer, bigger batches (``RunWork.spread``); the last modules of a
        run then go in one batch, not in ever smaller ones that each pay those round trips.
        """
        by_spread = -(-ready // (self._work.spread * max(1, free)))  # rounding up
        return max(1, min(self._work.max_batch, by_spread, self._failures_to_spend()))

    def _take_batch(self, ready: list[tuple[int, str]], unfinished: set[str], busy: set[str], size: int) -> list[str]:
        """The next ``size`` ready modules (or fewer) for one worker."""
        batch: list[str] = []
        while ready and len(batch) < size:
            _, key = heapq.heappop(ready)
            if key in unfinished and key not in busy and key not in batch:
                batch.append(key)
        return batch

    # -- the failure budget -------------------------------------------------------------------

    def _budget_spent(self) -> bool:
        return self._allowed is not None and self._failed > self._allowed

    def _failures_to_spend(self) -> int:
        """Failures still needed to spend the budget: a batch of more could overshoot it unseen."""
        return len(self._items) if self._allowed is None else max(1, self._allowed + 1 - self._failed)

    def _stop_for_budget(self, keys: set[str] | list[str], unfinished: set[str]) -> None:
        """End ``keys`` (modules not started, or staged and not switched) cancelled: the budget is spent."""
        if not keys:
            return
        why = (
            f"not started: {self._failed} modules failed, more than the failure budget allows "
            f"({self._allowed}, from --max-failures {self._budget})"
        )
        self._log("warning", f"{why}; {len(keys)} module(s) left for the next run")
        for key in sorted(keys):
            self._finish(key, WorkOutcome(ItemStatus.CANCELLED, FAILURE_BUDGET, why))
            unfinished.discard(key)

    def _submit(self, pool: ThreadPoolExecutor, batch: list[str]) -> Future[list[WorkOutcome | Exception]]:
        self.batches += 1
        now = utcnow()
        items = [self._items[key] for key in batch]
        for key, item in zip(batch, items, strict=True):
            self._started_at[key] = time.monotonic()
            self._statuses[key] = ItemStatus.DEPLOYING
            self._pending.started.append((self._item_row_ids[item.module_id], now))
            self._emit(ItemStarted(self._run_id, item.module, now))
        return pool.submit(self._work.perform_batch, items)

    def _outcomes_of(self, future: Future[list[WorkOutcome | Exception]], count: int) -> list[WorkOutcome]:
        try:
            results: list[WorkOutcome | Exception] = future.result()
        except Exception as exc:  # the batch as a whole broke: each of its modules failed with it
            results = [exc] * count
        return [result if isinstance(result, WorkOutcome) else _failure(result) for result in results]

    def _block_consumers(self, failed: str, consumers: dict[str, list[str]], unfinished: set[str]) -> None:
        """Rule 7: consumers of a failed producer, direct and indirect, are not attempted."""
        name = self._items[failed].module
        word = self._work.blocked_by
        stack = list(consumers[failed])
        while stack:
            key = stack.pop()
            if key not in unfinished:
                continue
            unfinished.discard(key)
            self._finish(key, WorkOutcome(ItemStatus.BLOCKED, f"{word} {name} failed"))
            stack.extend(consumers[key])

    def _break_cycle(self, unfinished: set[str], waiting: dict[str, set[str]]) -> str:
        """Modules that depend on each other in a circle: start the least-waiting one anyway."""
        key = min(sorted(unfinished), key=lambda k: len(waiting[k] & unfinished))
        self._log(
            "warning",
            f"{self._items[key].module} is part of a dependency cycle; deploying it before its producers",
        )
        waiting[key] = set()
        return key

    def _finish(self, key: str, outcome: WorkOutcome) -> None:
        item = self._items[key]
        began = self._started_at.get(key)
        seconds = time.monotonic() - began if began is not None else 0.0
        self._statuses[key] = outcome.status
        earlier = self._outcomes.get(key)
        if outcome.status == ItemStatus.FAILED and (earlier is None or earlier.status != ItemStatus.FAILED):
            self._failed += 1
        self._outcomes[key] = outcome
        self._pending.finished.append((self._item_row_ids[item.module_id], item, outcome, utcnow()))
        self._emit(ItemFinished(self._run_id, item.module, outcome.status, outcome.reason, outcome.message, seconds))
        if outcome.status == ItemStatus.FAILED:
            self._log("error", f"{item.module}: {outcome.message or outcome.reason}")

    # -- persistence --------------------------------------------------------------------------

    def _announce(self) -> None:
        with gc_paused(), self._db.read() as session:
            run = session.get(RunRow, self._run_id)
            assert run is not None
            rows = session.scalars(
                select(RunItemRow).where(RunItemRow.run_id == self._run_id).order_by(RunItemRow.position)
            ).all()
            self._item_row_ids = {row.module_id: row.id for row in rows}
            snapshot = tuple(
                ItemSnapshot(r.module_name, r.application, r.version, r.status, r.reason, r.message) for r in rows
            )
            # A rolling work names the front-ends it will switch one at a time, in their order.
            order = self._work.switch_order if isinstance(self._work, ConcludingWork) else ()
            started = RunStarted(run.id, run.kind, run.started_by, run.started_at, snapshot, order)
            note = run.message  # what setup found worth saying, such as a front-end it could not read
        self._emit(started)
        if note:
            self._log("warning", note)

    def _cancel_requested(self) -> bool:
        """The cancel event, or a request in the database the heartbeat has not seen yet.

        Checked here too so that a request made while the coordinator was held up is seen
        before it hands out more work, not up to a heartbeat later.
        """
        if self._cancel.is_set():
            return True
        now = time.monotonic()
        if now - self._last_cancel_check >= CANCEL_POLL_INTERVAL:
            self._last_cancel_check = now
            with self._db.read() as session:
                asked = session.scalar(select(RunRow.cancel_requested).where(RunRow.id == self._run_id))
            if asked:
                self._cancel.set()
        return self._cancel.is_set()

    def _maybe_flush(self) -> None:
        due = time.monotonic() - self._last_flush >= FLUSH_INTERVAL
        if len(self._pending) >= FLUSH_BATCH or (due and len(self._pending)):
            self._flush()

    def _flush(self) -> None:
        """One transaction: item transitions and what they changed."""
        pending, self._pending = self._pending, _Pending()
        with self._db.write() as session:
            self._write(session, pending)
        self._last_flush = time.monotonic()

    def _write(self, session: Session, pending: _Pending) -> None:
        finished = {row_id for row_id, _item, _outcome, _at in pending.finished}
        # An item that started and ended since the last flush is written once, with both times.
        started = {row_id: at for row_id, at in pending.started}
        begun = [(row_id, at) for row_id, at in pending.started if row_id not in finished]
        if begun:
            records.update_items(
                session, [{"item_id": row_id, "status": ItemStatus.DEPLOYING, "started_at": at} for row_id, at in begun]
            )
        if pending.finished:
            records.update_items(
                session,
                [
                    {
                        "item_id": row_id,
                        "status": outcome.status,
                        "reason": outcome.reason,
                        "message": outcome.message,
                        "frontends": None if outcome.frontends is None else dict(outcome.frontends),
                        "finished_at": at,
                        **({"started_at": started[row_id]} if row_id in started else {}),
                    }
                    for row_id, _item, outcome, at in pending.finished
                ],
            )
            done = [(item, outcome) for _row_id, item, outcome, _at in pending.finished if outcome.result is not None]
            if done:
                self._work.record(session, self._run_id, done)

    def _close(self, status: RunStatus) -> tuple[dict[str, int], RunStatus]:
        pending, self._pending = self._pending, _Pending()
        with self._db.write() as session:
            self._write(session, pending)
            run = session.get(RunRow, self._run_id)
            assert run is not None
            lost = self._unsettled(session)
            if lost:
                status = RunStatus.FAILED
                text = (
                    f"the run's record disagrees with its plan: {len(lost)} module(s) ended without a final "
                    f"status ({', '.join(lost[:5])}{', ...' if len(lost) > 5 else ''})"
                )
                self._log("error", text)
                records.close_run(session, run, status, text)
            else:
                records.close_run(session, run, status)
            statuses = session.scalars(select(RunItemRow.status).where(RunItemRow.run_id == self._run_id)).all()
        counts: dict[str, int] = {}
        for item_status in statuses:
            counts[item_status] = counts.get(item_status, 0) + 1
        return counts, status

    def _unsettled(self, session: Session) -> list[str]:
        """Section 8.5: every planned module must end in a final status, every skip with a reason.

        Those that did not are failed here, by name; a run with any ends ``failed``.
        """
        # Only the rows that disagree: a run of 100,000 modules reads none of the others.
        lost: list[tuple[int, str]] = [
            (row_id, name)
            for row_id, name in session.execute(
                select(RunItemRow.id, RunItemRow.module_name)
                .where(
                    RunItemRow.run_id == self._run_id,
                    RunItemRow.status.not_in(FINISHED_ITEM_STATUSES)
                    | ((RunItemRow.status == ItemStatus.SKIPPED) & RunItemRow.reason.is_(None)),
                )
                .order_by(RunItemRow.position)
            )
        ]
        missing = [item.module for key, item in self._items.items() if key not in self._outcomes]
        if lost:
            session.execute(
                update(RunItemRow),
                [
                    {
                        "id": row_id,
                        "status": ItemStatus.FAILED,
                        "reason": "lost",
                        "message": "the run ended without a final status for this module",
                        "finished_at": utcnow(),
                    }
                    for row_id, _name in lost
                ],
            )
        return sorted({name for _id, name in lost} | set(missing))

    def _abandon(self, exc: BaseException) -> None:
        """The coordinator itself failed: close the run so its locks do not outlive us."""
        try:
            with self._db.write() as session:
                run = session.get(RunRow, self._run_id)
                if run is not None and run.status == RunStatus.RUNNING:
                    records.close_run(session, run, RunStatus.FAILED, f"stopped by an error: {exc}")
        except Exception:
            pass  # the next process marks it interrupted from the missing heartbeat

    def _final_status(self, cancelled: bool) -> RunStatus:
        if cancelled or self.stopped_by is not None:
            return RunStatus.CANCELLED
        if any(status in UNSUCCESSFUL_ITEM_STATUSES for status in self._statuses.values()):
            return RunStatus.FAILED
        return RunStatus.SUCCEEDED

    def _log(self, level: str, text: str) -> None:
        self._emit(LogLine(self._run_id, level, text, utcnow()))


def _failure(exc: Exception) -> WorkOutcome:
    if isinstance(exc, DeployCenterError):
        return WorkOutcome(ItemStatus.FAILED, exc.message, exc.message)
    # A bug in one module's work must not take the run down.
    text = f"unexpected error: {type(exc).__name__}: {exc}"
    return WorkOutcome(ItemStatus.FAILED, text, text)
