"""Work off the GUI thread: each job is a plain callable run on its own QThread.

The GUI thread learns that a job ended from a queued signal, waits for the thread (it is on
its last line by then), drops it, and only then calls the job's callback; ``wait_all`` joins
every thread so that closing the window never leaves one running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from app.engine.errors import DeployCenterError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    name: str
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def error_text(self) -> str:
        if isinstance(self.error, DeployCenterError):
            return self.error.message
        return f"{self.name} failed unexpectedly: {type(self.error).__name__}: {self.error}"


Callback = Callable[[JobResult], None]


class JobThread(QThread):
    completed = Signal(object)  # self; emitted on the job's thread as its last act

    def __init__(self, name: str, work: Callable[[], Any], callback: Callback | None) -> None:
        super().__init__()
        self.setObjectName(f"job:{name}")
        self.name = name
        self.callback = callback
        self._work = work
        self.result = JobResult(name)

    def run(self) -> None:
        try:
            self.result = JobResult(self.name, self._work())
        except DeployCenterError as error:
            self.result = JobResult(self.name, error=error)
        except BaseException as error:  # a bug: keep the window alive and say so
            log.exception("job %s failed", self.name)
            self.result = JobResult(self.name, error=error)
        self.completed.emit(self)


class JobRunner(QObject):
    finished = Signal(object)  # JobResult, on the GUI thread, after the job's callback
    idle = Signal()  # no job left

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threads: list[JobThread] = []
        self.before_callbacks: list[Callable[[], None]] = []

    def submit(self, name: str, work: Callable[[], Any], callback: Callback | None = None) -> JobThread:
        thread = JobThread(name, work, callback)
        thread.completed.connect(self._on_completed)
        self._threads.append(thread)
        thread.start()
        return thread

    def running(self, name: str | None = None) -> list[str]:
        return [t.name for t in self._threads if name is None or t.name == name]

    def _on_completed(self, thread: JobThread) -> None:
        if thread not in self._threads:
            return  # already joined by wait_all
        thread.wait()
        self._threads.remove(thread)
        for hook in self.before_callbacks:
            hook()
        if thread.callback is not None:
            thread.callback(thread.result)
        self.finished.emit(thread.result)
        if not self._threads:
            self.idle.emit()

    def wait_all(self) -> None:
        """Join every job thread; their callbacks are dropped (the window is going away)."""
        threads, self._threads = self._threads, []
        for thread in threads:
            thread.wait()
