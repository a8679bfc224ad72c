"""The bridge under load: many thousands of events from worker threads, folded and delivered in few batches."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal
from pytestqt.qtbot import QtBot

from app.engine.events import ItemFinished, ItemSnapshot, ItemStarted, LogLine, RunFinished, RunStarted
from app.gui.bridge import EventBridge
from app.gui.run_folding import RowChanges, RunBatch
from app.gui.run_progress import RunProgress
from app.gui.run_tracker import RunTracker

EVENTS = 20_000
THREADS = 4
AT = datetime(2026, 1, 1, tzinfo=UTC)


class Collector(QObject):
    done = Signal()  # emitted on the GUI thread once the last event arrived

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.events: list[Any] = []
        self.batches = 0

    def take_one(self, value: Any) -> None:
        self.batches += 1
        self.events.append(value)
        if len(self.events) >= self.expected:
            self.done.emit()


class Applier(QObject):
    """Applies the bridge's batches to a run tracker, as the window does; ``done`` once every run ended."""

    done = Signal()

    def __init__(self, runs: int) -> None:
        super().__init__()
        self.tracker = RunTracker()
        self.runs = runs
        self.batches: list[list[RunBatch]] = []
        self.tracker.ended.connect(self._ended)
        self._ended_runs = 0

    def take(self, batches: list[RunBatch]) -> None:
        self.batches.append(batches)
        self.tracker.apply_batches(batches)

    def _ended(self, _progress: RunProgress) -> None:
        self._ended_runs += 1
        if self._ended_runs == self.runs:
            self.done.emit()


def modules(run_id: int, count: int) -> list[str]:
    return [f"R{run_id}M{n:05d}" for n in range(count)]


def flood(bridge: EventBridge, run_id: int, count: int) -> None:
    """One run, as the engine reports it: started, then each module started and finished, then the end."""
    names = modules(run_id, count)
    bridge.post(RunStarted(run_id, "deploy-all", "bench", AT, tuple(ItemSnapshot(n, "A", 1, "pending") for n in names)))
    for n, name in enumerate(names):
        if n % 10 == 0:
            bridge.post(LogLine(run_id, "info", f"line {n}", AT))
        bridge.post(ItemStarted(run_id, name, AT))
        bridge.post(ItemFinished(run_id, name, "deployed" if n % 7 else "failed", None, None, 0.0))
    bridge.post(RunFinished(run_id, "failed"))


def test_thousands_of_events_from_four_threads_arrive_folded_in_order_in_few_batches(qtbot: QtBot) -> None:
    bridge = EventBridge(interval_ms=40)
    applier = Applier(THREADS)
    bridge.batch_ready.connect(applier.take)
    per_thread = EVENTS // THREADS // 2  # modules per run: two item events each
    workers = [threading.Thread(target=flood, args=(bridge, t, per_thread)) for t in range(THREADS)]

    with qtbot.waitSignal(applier.done, timeout=30_000):
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    for run_id in range(THREADS):
        progress = applier.tracker.runs[run_id]
        expected = ["deployed" if n % 7 else "failed" for n in range(per_thread)]
        assert [row.status for row in progress.rows] == expected
        assert progress.counts["failed"] == expected.count("failed") and not progress.deploying
        lines = [line.split("  ", 1)[1] for line in progress.log]  # without their times
        said: list[str] = []
        for n, (name, status) in enumerate(zip(modules(run_id, per_thread), expected, strict=True)):
            said += [f"info: line {n}"] * (n % 10 == 0) + [f"{name}: {status}"]
        assert lines[1:-1] == said, "every line, in the order the engine said them"
    assert len(applier.batches) == bridge.batches
    assert bridge.batches < EVENTS / 100, "events must be folded into few batches, not delivered one by one"
    assert bridge.wakes <= bridge.batches + THREADS
    changes = [step for batches in applier.batches for b in batches for step in b.steps if isinstance(step, RowChanges)]
    # A module started and finished between two batches is handed over once, in its final state.
    assert sum(len(step.states) for step in changes) < 2 * THREADS * per_thread


def test_a_run_finished_event_flushes_with_its_batch(qtbot: QtBot) -> None:
    bridge = EventBridge(interval_ms=1000)
    applier = Applier(1)
    bridge.batch_ready.connect(applier.take)
    with qtbot.waitSignal(applier.done, timeout=5000):
        bridge.post(RunStarted(1, "deploy", "me", AT, (ItemSnapshot("a", "A", 1, "pending"),)))
        bridge.post(ItemFinished(1, "a", "deployed", None, None, 0.0))
        bridge.post(RunFinished(1, "succeeded"))
        bridge.flush()  # what the job runner does when the run's thread ends
    assert bridge.batches == 1
    assert applier.tracker.runs[1].rows[0].status == "deployed"


class Emitter(QThread):
    """Plain Signal(object) emits from a QThread: the pattern that crashed PySide6 6.12.0 on 3.11."""

    item = Signal(object)

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def run(self) -> None:
        for n in range(self.count):
            self.item.emit((n, "deployed"))


def test_many_cross_thread_signal_emits_do_not_crash(qtbot: QtBot) -> None:
    collector = Collector(EVENTS)
    emitter = Emitter(EVENTS)
    emitter.item.connect(collector.take_one)  # queued: the collector lives on the GUI thread
    with qtbot.waitSignal(collector.done, timeout=60_000):
        emitter.start()
    emitter.wait()
    assert [n for n, _ in collector.events] == list(range(EVENTS))
