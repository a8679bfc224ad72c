"""A run's proof of life, written from its own thread, and cancel requests from other processes."""

from __future__ import annotations

import logging
import threading

from app.engine.errors import DeployCenterError
from app.engine.runs import records
from app.engine.store.database import Database

log = logging.getLogger(__name__)


class RunHeartbeat:
    """Writes the run's heartbeat every few seconds from its own thread.

    Other processes take a run whose heartbeat stops as dead (``records.STALE_AFTER``), so the beat
    must not depend on the coordinator: an event sink or a long flush may hold that thread up.
    A cancel requested in the database (by any process) sets the run's cancel event.
    """

    def __init__(self, db: Database, run_id: int, cancel: threading.Event) -> None:
        self._db = db
        self._run_id = run_id
        self._cancel = cancel
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"run{run_id}-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stopped.wait(records.HEARTBEAT_INTERVAL):
            try:
                with self._db.write() as session:
                    stop_asked = records.beat(session, self._run_id)
            except DeployCenterError as exc:
                # A busy database delays one beat; the next one retries.
                log.warning("heartbeat of run %s skipped: %s", self._run_id, exc)
                continue
            if stop_asked:
                self._cancel.set()
