"""Engine events from worker threads to the GUI thread, folded, in batches a few times a second.

``post`` is the engine's ``on_event``. It folds the event where it is called (``run_folding``:
a starting run's rows are built there, each moved row keeps only its newest state, log lines
are made there), under a lock, and wakes the GUI thread with one queued signal per batch, not
one per event. On the GUI thread a single-shot timer spaces the batches ``interval_ms`` apart;
each is emitted as ``batch_ready`` with what changed since the last one, so that a run finishing
thousands of modules a second costs the GUI thread a pass over the changed rows a few times a
second, and never the folding of every event.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from app.engine.events import Event
from app.gui.run_folding import RunFolder

BATCH_INTERVAL_MS = 200


class EventBridge(QObject):
    batch_ready = Signal(object)  # list[RunBatch], emitted on the GUI thread
    _wake = Signal()  # emitted by worker threads, delivered queued on the GUI thread

    def __init__(self, parent: QObject | None = None, interval_ms: int = BATCH_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._interval = interval_ms
        self._lock = threading.Lock()
        self._folder = RunFolder()
        self._awake = False
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self._wake.connect(self._schedule, Qt.ConnectionType.QueuedConnection)
        self.batches = 0  # how many batches were emitted; tests and the benchmark read it
        self.wakes = 0

    def post(self, event: Event) -> None:
        """Any thread: fold ``event`` in; wakes the GUI thread if no batch is on its way yet."""
        with self._lock:
            self._folder.fold(event)
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
        """GUI thread: emit what is folded now (also called when a run's thread ends)."""
        self._timer.stop()
        with self._lock:
            batches = self._folder.take()
            self._awake = False
        self._last_flush = time.monotonic()
        if batches:
            self.batches += 1
            self.batch_ready.emit(batches)
