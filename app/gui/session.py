"""One opened environment and the objects the window shares: notifier, jobs, bridge, runs, watcher,
and the engine's plan of what Deploy All would do now."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.engine.context import EnvironmentContext
from app.engine.webhooks.sender import BackgroundSender
from app.gui.bridge import EventBridge
from app.gui.controller import OperationController
from app.gui.jobs import JobResult, JobRunner
from app.gui.memory import settle_long_lived
from app.gui.notifier import Notifier
from app.gui.plan_reader import DeployPlanReader
from app.gui.run_tracker import RunTracker
from app.gui.snapshot import Snapshot, load_snapshot
from app.gui.watcher import POLL_INTERVAL_MS, EnvironmentWatcher

REFRESH_JOB = "refresh"


class GuiSession(QObject):
    snapshot_loaded = Signal(object)  # Snapshot

    def __init__(self, ctx: EnvironmentContext, poll_interval_ms: int = POLL_INTERVAL_MS) -> None:
        super().__init__()
        self.ctx = ctx
        self.notifier = Notifier(self)
        self.jobs = JobRunner(self)
        self.bridge = EventBridge(self)
        self.tracker = RunTracker(self)
        self.controller = OperationController(ctx, self.jobs, self.bridge, self.notifier, self)
        self.watcher = EnvironmentWatcher(ctx, self.jobs, self.tracker, self.controller, poll_interval_ms, self)
        # Sends the webhook events that are due while the window is open, off the GUI thread.
        self.webhook_sender = BackgroundSender(ctx.db) if not ctx.db.read_only else None
        self.plan = DeployPlanReader(ctx, self.jobs, self)
        self.snapshot: Snapshot | None = None
        self._refresh_again = False
        self._closed = False
        self.bridge.batch_ready.connect(self.tracker.apply_batches)
        # A run's last events are applied before anyone hears that its job ended.
        self.jobs.before_callbacks.append(self.bridge.flush)
        self.controller.finished.connect(self.refresh)
        self.tracker.ended.connect(self.refresh)
        self.watcher.recorded.connect(self.refresh)

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called: no new work may start."""
        return self._closed

    @property
    def environment_name(self) -> str:
        return self.snapshot.status.name if self.snapshot else self.ctx.data_dir.name

    def start(self) -> None:
        self.refresh()
        self.watcher.start()
        if self.webhook_sender is not None:
            self.webhook_sender.start()

    def refresh(self) -> None:
        """Reload what the panes show, on a job thread; a request during a load runs once after it."""
        if self._closed:
            return
        if self.jobs.running(REFRESH_JOB):
            self._refresh_again = True
            return
        self._refresh_again = False
        self.jobs.submit(REFRESH_JOB, lambda: load_snapshot(self.ctx), self._loaded)

    def _loaded(self, result: JobResult) -> None:
        if result.ok:
            self.snapshot = result.value
            self.snapshot_loaded.emit(result.value)
            settle_long_lived()  # the tables just loaded live until the next reload
            self._plan_again()
        else:
            self.notifier.error(f"Could not read the environment: {result.error_text}")
        if self._refresh_again:
            self.refresh()

    def _plan_again(self) -> None:
        """What Deploy All would do, read again after a reload; not while a run moves modules (its
        end brings another reload), nor while a run of ours is starting."""
        if not self.tracker.active() and not self.controller.awaiting_run_id():
            self.plan.read()

    def close(self) -> None:
        """Stop polling, stop our runs, join every thread, close the database."""
        if self._closed:
            return
        self._closed = True
        self.plan.closed = True
        self.watcher.stop()
        self.controller.cancel_all()
        self.jobs.wait_all()
        if self.webhook_sender is not None:
            self.webhook_sender.finish()
        self.ctx.close()
