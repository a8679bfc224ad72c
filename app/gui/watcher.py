"""Notices what other processes do: a timer polls a few cheap queries on a job thread.

Every ``interval_ms`` it reads which runs are active, what moved in the runs of other processes
since the last poll, the module locks when the set of active runs changed, and a marker that
moves whenever anything is recorded (then the panes reload).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal

from app.engine.context import EnvironmentContext
from app.engine.identity import host_name
from app.engine.read import queries
from app.gui.controller import OperationController
from app.gui.jobs import JobResult, JobRunner
from app.gui.run_tracker import RunTracker

log = logging.getLogger(__name__)
POLL_INTERVAL_MS = 1000
POLL_JOB = "poll"


@dataclass(frozen=True)
class PollRequest:
    own: frozenset[int]
    awaiting_own: bool
    followed: Mapping[int, datetime | None]
    last_active: frozenset[int] | None


@dataclass(frozen=True)
class PollResult:
    activity: queries.Activity
    changes: dict[int, queries.RunChanges]
    locks: dict[int, int] | None


def poll(ctx: EnvironmentContext, request: PollRequest) -> PollResult:
    """Job thread: the reads of one poll."""
    activity = queries.activity(ctx)
    me = (host_name(), os.getpid())
    changes: dict[int, queries.RunChanges] = {}
    for run in activity.active_runs:
        mine = activity.owner_pids.get(run.id) == me
        if run.id in request.own or (mine and request.awaiting_own and run.id not in request.followed):
            continue  # our own run: its events are on their way through the bridge
        changes[run.id] = queries.run_changes(ctx, run.id, request.followed.get(run.id))
    for run_id, since in request.followed.items():
        if run_id not in changes:  # ended since the last poll: read how
            changes[run_id] = queries.run_changes(ctx, run_id, since)
    locks = None if activity.active_ids == request.last_active else queries.module_locks(ctx)
    return PollResult(activity, changes, locks)


class EnvironmentWatcher(QObject):
    activity = Signal(object)  # queries.Activity, after each poll
    locks_changed = Signal(object)  # dict module id -> run id
    recorded = Signal()  # something was recorded since the last poll

    def __init__(
        self,
        ctx: EnvironmentContext,
        jobs: JobRunner,
        tracker: RunTracker,
        controller: OperationController,
        interval_ms: int = POLL_INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._jobs = jobs
        self._tracker = tracker
        self._controller = controller
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)
        self._marker: tuple[object, ...] | None = None
        self._last_active: frozenset[int] | None = None
        self._failing = False

    def start(self) -> None:
        self._timer.start()
        self.poll()

    def stop(self) -> None:
        self._timer.stop()

    def poll(self) -> None:
        if self._jobs.running(POLL_JOB):
            return  # the previous poll is still reading
        request = PollRequest(
            frozenset(self._controller.own_run_ids()),
            self._controller.awaiting_run_id(),
            self._tracker.external_since(),
            self._last_active,
        )
        self._jobs.submit(POLL_JOB, lambda: poll(self._ctx, request), self.apply)

    def apply(self, result: JobResult) -> None:
        """GUI thread: what one poll read, perhaps a moment ago."""
        if not result.ok:
            if not self._failing:
                log.warning("polling the environment failed: %s", result.error_text)
            self._failing = True
            return
        self._failing = False
        found: PollResult = result.value
        activity = found.activity
        own = self._controller.own_run_ids()
        if self._controller.awaiting_run_id():  # a run of ours whose first event is still on its way
            me = (host_name(), os.getpid())
            own |= {run_id for run_id, owner in activity.owner_pids.items() if owner == me}
        self._tracker.apply_polled(activity.active_runs, found.changes, own)
        if found.locks is not None:
            ended = self._tracker.ended_ids()
            locks = {module: run for module, run in found.locks.items() if run not in ended}
            # Locks read before a run ended are stale: drop them, and read them again next time.
            self._last_active = None if len(locks) != len(found.locks) else activity.active_ids
            self.locks_changed.emit(locks)
        if self._marker is not None and activity.marker != self._marker:
            self.recorded.emit()
        self._marker = activity.marker
        self.activity.emit(activity)
