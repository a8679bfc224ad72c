"""The bridge under load: many thousands of events from worker threads, delivered whole and in batches."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal
from pytestqt.qtbot import QtBot

from app.engine.events import ItemFinished, LogLine, RunFinished
from app.gui.bridge import EventBridge

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
        self.take([value])

    def take(self, batch: list[Any]) -> None:
        self.batches += 1
        self.events.extend(batch)
        if len(self.events) >= self.expected:
            self.done.emit()


def flood(bridge: EventBridge, thread_number: int, count: int) -> None:
    for n in range(count):
        if n % 10 == 0:
            bridge.post(LogLine(thread_number, "info", f"line {n}", AT))
        else:
            bridge.post(ItemFinished(thread_number, f"m{n}", "deployed", None, None, 0.0))


def test_twenty_thousand_events_from_four_threads_arrive_in_order_in_few_batches(qtbot: QtBot) -> None:
    bridge = EventBridge(interval_ms=40)
    collector = Collector(EVENTS)
    bridge.batch_ready.connect(collector.take)
    per_thread = EVENTS // THREADS
    workers = [threading.Thread(target=flood, args=(bridge, t, per_thread)) for t in range(THREADS)]

    with qtbot.waitSignal(collector.done, timeout=30_000):
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    assert len(collector.events) == EVENTS
    for t in range(THREADS):
        mine = [e for e in collector.events if e.run_id == t]
        assert [e.text if isinstance(e, LogLine) else e.module for e in mine] == [
            f"line {n}" if n % 10 == 0 else f"m{n}" for n in range(per_thread)
        ]
    assert collector.batches == bridge.batches
    assert collector.batches < EVENTS / 100, "events must be coalesced, not delivered one by one"
    assert bridge.wakes <= collector.batches + THREADS


def test_a_run_finished_event_flushes_with_its_batch(qtbot: QtBot) -> None:
    bridge = EventBridge(interval_ms=1000)
    collector = Collector(2)
    bridge.batch_ready.connect(collector.take)
    with qtbot.waitSignal(collector.done, timeout=5000):
        bridge.post(ItemFinished(1, "a", "deployed", None, None, 0.0))
        bridge.post(RunFinished(1, "succeeded"))
        bridge.flush()  # what the job runner does when the run's thread ends
    assert collector.batches == 1


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
