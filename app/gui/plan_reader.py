"""What Deploy All would do now, as the engine plans it, for every part of the window that offers it.

The window never decides by a rule of its own what is left to deploy: the Upgrades counts, the
Deploy, Rolling deploy and Stage buttons, Deploy selected and Deploy again all follow the
engine's plan (``read.preview``), which also brings a front-end added or enabled since up to date.
Planning reads every enabled front-end, so it runs on a job thread: after every reload of the
environment while no run is active (a run's end brings a reload), and whenever a pane asks for
a fresh plan before a question. A request during a read is served by a read that starts after it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from PySide6.QtCore import QObject, Signal

from app.engine.context import EnvironmentContext
from app.engine.gc_pause import gc_paused
from app.engine.read.preview import DeployPreview, deploy_preview
from app.engine.runs.planner import DEPLOY
from app.gui.jobs import JobResult, JobRunner

PLAN_JOB = "deploy plan"


class PlanMark(NamedTuple):
    """What the plan does with one module: ``DEPLOY``, or the reason it skips it."""

    action: str
    detail: str | None = None
    missing_on: str | None = None  # the front-end it is written to although recorded as live

    @property
    def deploys(self) -> bool:
        return self.action == DEPLOY


@dataclass(frozen=True)
class PlanRead:
    """One read of the plan: the engine's preview, and each module's mark (module id -> mark)."""

    preview: DeployPreview
    marks: Mapping[int, PlanMark]


def read_plan(ctx: EnvironmentContext) -> PlanRead:
    """Job thread: the preview, and the marks built here rather than on the window's thread."""
    preview = deploy_preview(ctx)
    with gc_paused():
        marks = {
            item.module_id: PlanMark(DEPLOY if item.deploys else str(item.reason), item.detail, item.missing_on)
            for item in preview.plan.items
        }
    return PlanRead(preview, marks)


Reply = Callable[[JobResult], None]


class DeployPlanReader(QObject):
    changed = Signal(object)  # PlanRead, or None when the last read failed
    reading_changed = Signal(bool)

    def __init__(self, ctx: EnvironmentContext, jobs: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._jobs = jobs
        self.last: PlanRead | None = None
        self.error: str | None = None  # why the last read failed
        self._waiting: list[Reply] = []  # for the read after the one under way
        self._again = False
        self.closed = False

    @property
    def preview(self) -> DeployPreview | None:
        return self.last.preview if self.last is not None else None

    @property
    def reading(self) -> bool:
        return bool(self._jobs.running(PLAN_JOB))

    def read(self, reply: Reply | None = None) -> None:
        """Plan again on a job thread; ``reply`` gets that plan's result (after ``changed``)."""
        if self.closed:
            return
        if reply is not None:
            self._waiting.append(reply)
        if self.reading:
            self._again = True  # the environment may have changed since that read began
            return
        self._again = False
        replies, self._waiting = self._waiting, []
        self._jobs.submit(PLAN_JOB, lambda: read_plan(self._ctx), lambda result: self._read(result, replies))
        self.reading_changed.emit(True)

    def _read(self, result: JobResult, replies: list[Reply]) -> None:
        if self.closed:
            return
        if result.ok:
            self.last, self.error = result.value, None
        else:
            self.last, self.error = None, result.error_text
        self.changed.emit(self.last)
        for reply in replies:
            reply(result)
        if self._again or self._waiting:
            self.read()
        else:
            self.reading_changed.emit(False)
