"""The engine's operations, started from the window and run on job threads.

Each operation gets its own cancel flag; runs report through the bridge. The engine refuses
what the rules forbid (a locked module, a second Deploy All) and that refusal reaches the user
through the notifier, in the pane the action came from.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.engine import operations
from app.engine.context import EnvironmentContext
from app.engine.control import plans as saved_plans
from app.engine.control.document import PlanDocument
from app.engine.errors import RefusedError
from app.engine.events import Event, EventSink, RunStarted
from app.engine.kinds.rollback import RollbackPlan
from app.engine.read.preview import DeployPreview
from app.engine.runs.options import RunOptions
from app.gui.bridge import EventBridge
from app.gui.formatting import SKIP_REASON_LABELS, count_text, plural
from app.gui.jobs import JobResult, JobRunner
from app.gui.notifier import Notifier

RunCall = Callable[[EventSink, threading.Event], Any]


@dataclass
class Operation:
    name: str
    pane: str | None
    makes_run: bool
    cancel: threading.Event = field(default_factory=threading.Event)
    run_id: int | None = None  # set on the job's thread as soon as the run announces itself


@dataclass(frozen=True)
class OperationResult:
    operation: Operation
    result: JobResult


class OperationController(QObject):
    finished = Signal(object)  # OperationResult, on the GUI thread
    busy_changed = Signal()
    run_starting = Signal(object)  # Operation: a run asked for, not recorded yet (its setup can take seconds)

    def __init__(
        self,
        ctx: EnvironmentContext,
        jobs: JobRunner,
        bridge: EventBridge,
        notifier: Notifier,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._jobs = jobs
        self._bridge = bridge
        self._notifier = notifier
        self.operations: list[Operation] = []
        self.workers: int | None = None  # None: the engine's default

    # -- what the window asks for ---------------------------------------------------------------

    def deploy_all(
        self, pane: str | None = "upgrades", *, rolling: bool = False, options: RunOptions | None = None
    ) -> Operation:
        """Deploy All with ``options`` (or plain, ``rolling`` or not): its failure budget, its soak."""
        chosen = options if options is not None else RunOptions(rolling=rolling)
        return self._run(
            "Deploy All",
            pane,
            lambda sink, cancel: operations.deploy_all(
                self._ctx, workers=self.workers, options=chosen, on_event=sink, cancel=cancel
            ),
        )

    def deploy_modules(self, names: Sequence[str], pane: str | None = "modules") -> Operation:
        def call(sink: EventSink, cancel: threading.Event) -> Any:
            ids = operations.resolve_modules(self._ctx, list(names))
            return operations.deploy_modules(self._ctx, ids, workers=self.workers, on_event=sink, cancel=cancel)

        return self._run("Deploy", pane, call)

    def upgrade(self, version: str, pane: str | None = "upgrades") -> Operation:
        return self._run(
            f"Upgrade to {version}",
            pane,
            lambda sink, cancel: operations.upgrade(
                self._ctx, version, workers=self.workers, on_event=sink, cancel=cancel
            ),
        )

    def publish(self, paths: Sequence[Path], pane: str | None = "modules") -> Operation:
        return self._run(
            "Publish",
            pane,
            lambda sink, cancel: operations.publish(
                self._ctx, list(paths), workers=self.workers, on_event=sink, cancel=cancel
            ),
        )

    def apply_config(self, module: str, values: dict[str, str], pane: str | None = "modules") -> Operation:
        done = f"Configuration of {module} applied: {', '.join(sorted(values))}"
        call = partial(operations.apply_config, self._ctx, module, values)
        return self._quick("Apply configurations", pane, call, done)

    def delete_module(self, module: str, pane: str | None = "modules") -> Operation:
        call = partial(operations.delete_module, self._ctx, module)
        return self._quick("Delete", pane, call, f"Module {module} deleted")

    def stage_all(self, pane: str | None = "upgrades") -> Operation:
        return self._run(
            "Stage now",
            pane,
            lambda sink, cancel: operations.stage_all(self._ctx, workers=self.workers, on_event=sink, cancel=cancel),
        )

    def rollback_run(self, run_id: int, pane: str | None = "upgrades") -> Operation:
        return self._run(
            f"Roll back run {run_id}",
            pane,
            lambda sink, cancel: operations.rollback_run(
                self._ctx, run_id, workers=self.workers, on_event=sink, cancel=cancel
            ),
        )

    def rollback_modules(self, names: Sequence[str], pane: str | None = "modules") -> Operation:
        def call(sink: EventSink, cancel: threading.Event) -> Any:
            ids = operations.resolve_modules(self._ctx, list(names))
            return operations.rollback_modules(self._ctx, ids, workers=self.workers, on_event=sink, cancel=cancel)

        return self._run("Roll back", pane, call)

    def publish_solution(self, names: Sequence[str] | None = None, pane: str | None = "upgrades") -> Operation:
        """Recompile from stored sources and deploy: the chosen modules, or every one (``None``)."""

        def call(sink: EventSink, cancel: threading.Event) -> Any:
            ids = None if names is None else operations.resolve_modules(self._ctx, list(names))
            return operations.publish_solution(self._ctx, ids, workers=self.workers, on_event=sink, cancel=cancel)

        return self._run("Publish solution", pane, call)

    def run_plan(self, plan: PlanDocument, pane: str | None = "changes") -> Operation:
        """A saved plan, run exactly as it was made and approved (``--plan``)."""
        return self._run(
            f"Run plan {plan.short_id}",
            pane,
            lambda sink, cancel: saved_plans.run_plan(
                self._ctx, plan, workers=self.workers, on_event=sink, cancel=cancel
            ),
        )

    def cancel_run(self, run_id: int, pane: str | None = "details") -> Operation | None:
        """Our own run stops at once; another process's run at its next heartbeat."""
        own = self.operation_of(run_id)
        if own is not None:
            own.cancel.set()
            self._notifier.info(f"Cancelling run {run_id}: modules already deploying finish first", pane, run_id)
            return None
        return self._quick(
            "Cancel", pane, lambda: operations.cancel_run(self._ctx, run_id), f"Run {run_id} was asked to stop"
        )

    # -- state ---------------------------------------------------------------------------------

    def own_run_ids(self) -> set[int]:
        return {op.run_id for op in self.operations if op.run_id is not None}

    def awaiting_run_id(self) -> bool:
        """A run of ours may exist in the database before its first event reaches us."""
        return any(op.makes_run and op.run_id is None for op in self.operations)

    def operation_of(self, run_id: int) -> Operation | None:
        return next((op for op in self.operations if op.run_id == run_id), None)

    def runs_in_progress(self) -> list[Operation]:
        return [op for op in self.operations if op.makes_run]

    def cancel_all(self) -> None:
        for op in self.operations:
            op.cancel.set()

    def quick(self, name: str, pane: str | None, call: Callable[[], Any], done: str) -> Operation:
        """A short change that makes no run (a front-end added, say): off the GUI thread, then said."""
        return self._quick(name, pane, call, done)

    # -- plumbing ------------------------------------------------------------------------------

    def _run(self, name: str, pane: str | None, call: RunCall) -> Operation:
        op = Operation(name, pane, makes_run=True)

        def sink(event: Event) -> None:
            if op.run_id is None and isinstance(event, RunStarted):
                op.run_id = event.run_id
            self._bridge.post(event)

        self._start(op, lambda: call(sink, op.cancel), None)
        return op

    def _quick(self, name: str, pane: str | None, call: Callable[[], Any], done: str) -> Operation:
        op = Operation(name, pane, makes_run=False)
        self._start(op, call, done)
        return op

    def _start(self, op: Operation, work: Callable[[], Any], done: str | None) -> None:
        self.operations.append(op)
        self._jobs.submit(op.name, work, partial(self._on_done, op, done))
        self.busy_changed.emit()
        if op.makes_run:
            self.run_starting.emit(op)

    def starting(self) -> list[Operation]:
        """Runs asked for whose first event has not arrived yet."""
        return [op for op in self.operations if op.makes_run and op.run_id is None]

    def _on_done(self, op: Operation, done: str | None, result: JobResult) -> None:
        if op.makes_run:
            self._bridge.flush()  # the run's last events first: its end is shown before it is announced
        self.operations.remove(op)
        if not result.ok:
            # A refusal because of a run is about that run: it goes when the run ends.
            run_id = result.error.run_id if isinstance(result.error, RefusedError) else None
            self._notifier.error(result.error_text, op.pane, run_id, source=op.name)
        elif done is not None:
            self._notifier.info(done)
        elif isinstance(result.value, operations.RunOutcome):
            outcome = result.value
            self._notifier.info(f"Run {outcome.run_id} ({outcome.kind}) {outcome.status}")
        self.busy_changed.emit()
        self.finished.emit(OperationResult(op, result))


def describe_plan(preview: DeployPreview) -> str:
    """The confirmation text before a Deploy All: what deploys, what only switches, what is skipped, and why."""
    plan = preview.plan
    lines = [f"Deploy All on {plan.platform_version} will deploy {plural(len(plan.to_deploy), 'module')}."]
    catching_up = [item for item in preview.catching_up if item.platform is None]
    if catching_up:
        where = ", ".join(sorted({str(item.missing_on) for item in catching_up}))
        lines.append(
            f"Of those, {plural(len(catching_up), 'module')} already live elsewhere "
            f"{'is' if len(catching_up) == 1 else 'are'} missing on {where}: written there to bring it up to date."
        )
    older = len(preview.older_builds)
    if older:
        them = "it gets its" if older == 1 else "they get their"
        lines.append(
            f"Of those, {plural(older, 'module')} did not compile for {plan.platform_version}: "
            f"{them} older live build on the front-ends that lack it."
        )
    if preview.staged:
        staged = len(preview.staged)
        lines.append(
            f"{plural(staged, 'module')} {'is' if staged == 1 else 'are'} staged already: "
            f"{'its release is' if staged == 1 else 'their releases are'} on the front-ends, "
            f"so {'it only switches' if staged == 1 else 'they only switch'}."
        )
    for reason, count in plan.skipped_by_reason().items():
        if count:
            lines.append(f"{plural(count, 'module')} will be skipped: {SKIP_REASON_LABELS.get(reason, reason)}.")
    lines.append("Modules keep running their current release until their new one is live.")
    return "\n".join(lines)


def describe_stage(preview: DeployPreview) -> str:
    """The confirmation text before Stage now: what is written to the front-ends, and that nothing switches."""
    plan = preview.plan
    lines = [
        f"Stage now on {plan.platform_version} will write {plural(len(plan.to_deploy), 'release')} "
        "to every enabled front-end and switch nothing."
    ]
    for reason, count in plan.skipped_by_reason().items():
        if count:
            lines.append(f"{plural(count, 'module')} will be left out: {SKIP_REASON_LABELS.get(reason, reason)}.")
    lines.append("Modules keep running their current release; a later Deploy All only switches them.")
    return "\n".join(lines)


ROLLBACK_SHOWN = 12
NO_ROLLBACK_REASONS = {"changed-since": "changed since", "no-previous-release": "no earlier release"}


def describe_rollback(plan: RollbackPlan) -> str:
    """The confirmation text before a rollback: each module that switches back, to which release."""
    what = f"run {plan.run_id}" if plan.run_id is not None else "the chosen modules"
    back = plan.to_roll_back
    lines = [f"Rolling back {what} switches {plural(len(back), 'module')} back on every enabled front-end:"]
    for item in back[:ROLLBACK_SHOWN]:
        version = f"version {item.target_version}" if item.target_version is not None else "its earlier version"
        platform = f" on {item.target_platform}" if item.target_platform else ""
        lines.append(
            f"  {item.module}: {item.current_release or 'nothing'} → {item.target_release} ({version}{platform})"
        )
    if len(back) > ROLLBACK_SHOWN:
        lines.append(f"  … and {count_text(len(back) - ROLLBACK_SHOWN)} more")
    staying = [item for item in plan.items if not item.rolls_back]
    for item in staying[:ROLLBACK_SHOWN]:
        why = NO_ROLLBACK_REASONS.get(str(item.reason), str(item.reason))
        lines.append(f"{item.module} stays as it is: {why}" + (f" ({item.detail})" if item.detail else ""))
    if len(staying) > ROLLBACK_SHOWN:
        lines.append(f"… and {count_text(len(staying) - ROLLBACK_SHOWN)} more stay as they are")
    lines.append("Consumers switch back before their producers.")
    return "\n".join(lines)
