"""Engine events from worker threads to the GUI thread, in batches at most ~25 times a second.

``post`` is the engine's ``on_event``: it only appends to a locked list, and wakes the GUI
thread with one queued signal per batch, not one per event, so that a worker finishing
thousands of modules a second never floods the event loop. On the GUI thread a single-shot
timer spaces the batches ``interval_ms`` apart; each batch is emitted as ``batch_ready``.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from app.engine.events import Event

BATCH_INTERVAL_MS = 40


class EventBridge(QObject):
    batch_ready = Signal(object)  # list[Event], emitted on the GUI thread
    _wake = Signal()  # emitted by worker threads, delivered queued on the GUI thread

    def __init__(self, parent: QObject | None = None, interval_ms: int = BATCH_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._interval = interval_ms
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._awake = False
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self._wake.connect(self._schedule, Qt.ConnectionType.QueuedConnection)
        self.batches = 0  # how many batches were emitted; tests and the benchmark read it
        self.wakes = 0

    def post(self, event: Event) -> None:
        """Any thread: queue ``event``; wakes the GUI thread if no batch is on its way yet."""
        with self._lock:
            self._events.append(event)
            if self._awake:
                return
            self._awake = True
        self._wake.emit()

    def _schedule(self) -> None:
        self.wakes += 1
        if self._timer.isActive():
            return
        since = (time.monotonic() - self._last_flush) * 1000
        self._timer.start(max(0, int(self._interval - since)))

    def flush(self) -> None:
        """GUI thread: emit what is queued now (also called when a run's thread ends)."""
        self._timer.stop()
        with self._lock:
            events, self._events = self._events, []
            self._awake = False
        self._last_flush = time.monotonic()
        if events:
            self.batches += 1
            self.batch_ready.emit(events)
