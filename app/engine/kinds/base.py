"""What every run kind shares: how a run starts, executes and ends, and how many workers it gets.

``start_run`` is the one way a run begins. In one writer transaction it settles runs whose
process died, refuses what the kind's traits forbid beside the active runs, reads the
front-ends, asks the kind to plan (``PlannedRun``), refuses modules another run holds, records
the run and audits its start. Then it builds the kind's work, wrapped for a rolling switch when
asked, and hands it to the executor (``execute``), which runs it and audits the end. A kind's
file therefore holds only what is its own: which modules it takes, and what it does to each.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.orm import Session

from app.engine.audit import audit, audited
from app.engine.compiler import PlatformSpec
from app.engine.context import EnvironmentContext
from app.engine.control.gate import PLAIN_REQUEST, ChangeGate, ChangeRequest
from app.engine.errors import BadInputError, StateError
from app.engine.events import EventSink
from app.engine.frontend.farm import DEFAULT_KEEP
from app.engine.frontend.ownership import Owner, claim
from app.engine.frontend.registry import Frontend, enabled, shared_stats, shared_targets, targets_in_use
from app.engine.frontend.target import FrontendTarget, TargetStats
from app.engine.gc_pause import gc_paused
from app.engine.kinds.drains import DrainBook
from app.engine.kinds.recovery import begin_operation
from app.engine.kinds.rolling import RollingWork, StagingWork
from app.engine.lookup import frontends_of_session, owner
from app.engine.runs import records
from app.engine.runs.executor import RunExecutor
from app.engine.runs.options import PLAIN_RUN, RunOptions
from app.engine.runs.pool import WorkerPool, process_count
from app.engine.runs.stats import RunStats, added, since
from app.engine.runs.work import RunWork, StopCheck, WorkItem
from app.engine.store.models import EnvironmentRow
from app.engine.vocabulary import RunKind, RunStatus

P = TypeVar("P")


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, for exit codes and summaries; ``stats``: what it cost (``--json``)."""

    run_id: int
    kind: RunKind
    status: RunStatus
    stats: RunStats | None = None


@dataclass(frozen=True)
class RunStart:
    """What a kind's plan sees, inside the writer transaction that records its run."""

    session: Session
    env: EnvironmentRow
    frontends: tuple[Frontend, ...]  # enabled: the ones the run writes to
    disabled: tuple[str, ...]  # taken out of runs: reported, not written
    rolling: bool  # the run stages everything first, then switches (one front-end at a time, or soaked)


@dataclass(frozen=True)
class StartedRun:
    """The recorded run, as its work needs it once the transaction is over."""

    id: int
    platform: str
    artifacts: str  # the artifact store's folder, for worker processes
    frontends: tuple[Frontend, ...]
    disabled: tuple[str, ...]
    keep: int  # older releases each front-end keeps beside the protected ones


@dataclass(frozen=True)
class PlannedRun(Generic[P]):
    """What a kind decided in its plan: every item of the run, the ones worked on, and the work.

    ``make_work`` builds the work once the run is recorded; in a rolling run it must only stage
    (its ``switch`` argument is then False) and be a ``StagingWork``.
    """

    items: Sequence[records.NewItem]  # every item recorded, skipped ones included
    work_items: Sequence[WorkItem[P]]  # the items worked on, in the run's order
    make_work: Callable[[StartedRun, WorkerPool, bool], RunWork[P]]
    operation: str  # what a lock refusal calls the run: "deploy", "rollback"
    locks_modules: bool = True  # refuse the run when another run holds one of its modules
    heavy: int | None = None  # items whose file work is worth worker processes (None: all)
    platform: str | None = None  # the run's platform when not the environment's (an upgrade's)
    note: str = ""  # said in the audit entry of the run's start
    message: str | None = None  # the run's message from its start (what the plan could not know)
    audited_as: str | None = None  # what the audit entry of the start names, when not the run's target
    recorded: Callable[[Session, int], None] | None = None  # what the kind records once the run has its id


def start_run(
    ctx: EnvironmentContext,
    kind: RunKind,
    target: str,
    plan: Callable[[RunStart], PlannedRun[P]],
    *,
    workers: int,
    options: RunOptions = PLAIN_RUN,
    change: ChangeRequest = PLAIN_REQUEST,
    on_event: EventSink,
    cancel: threading.Event | None,
) -> RunOutcome:
    """Record a run of ``kind`` as ``plan`` decides it, then execute it; ``target`` names it in the audit.

    Change control (``control.gate``) refuses it in the same transaction, as ``change`` asks it
    to start: from a saved plan, past a window, or as an emergency.
    """
    rolling = options.rolling
    staged_first = rolling or bool(options.soak)  # a soak switches back: nothing goes live before it
    if rolling and not kind.traits.rolling:
        raise BadInputError(f"a {kind.traits.label} run cannot be --rolling")
    if options.soak and not kind.traits.rolling:
        raise BadInputError(f"a {kind.traits.label} run cannot --soak: it switches nothing it could switch back")
    # Setting up a big run makes tens of thousands of short-lived acyclic objects; the cycle
    # collector would rescan them all several times, holding the GIL the window needs.
    with targets_in_use():
        before = shared_stats()  # this process's targets may serve another run at the same time
        with audited(ctx, kind, target), gc_paused(), ctx.db.write() as session:
            env = begin_operation(session)
            records.refuse_if_exclusive_active(session, kind)
            gate = ChangeGate(session, env, kind, change)
            every = frontends_of_session(session)
            frontends = tuple(enabled(every))
            if rolling:
                refuse_rolling(frontends)
            if staged_first:
                refuse_drained(frontends)
            # Claimed while the run is planned and recorded: over the network the claim is also
            # where each front-end is connected to. Waited for before anything is committed.
            claiming = _Claim(shared_targets(frontends), owner(ctx, env)) if kind.traits.stages else None
            try:
                disabled = tuple(frontend.name for frontend in every if not frontend.enabled)
                planned = plan(RunStart(session, env, frontends, disabled, staged_first))
                platform = planned.platform or env.platform_version
                gate.admit(planned.items, planned.work_items, every, platform, options)
                if planned.locks_modules:
                    records.refuse_if_locked(
                        session, [item.module_id for item in planned.work_items], planned.operation
                    )
                run = records.create_run(session, kind, platform, list(planned.items), workers, options=options)
                run.message = planned.message
                if planned.recorded is not None:
                    planned.recorded(session, run.id)
            finally:
                refused = claiming.wait() if claiming is not None else None
            if refused is not None:
                raise refused  # a front-end of another environment: the transaction stores nothing
            audit(session, kind, planned.audited_as or target, "started", f"run {run.id}{planned.note}")
            gate.started(run.id, target)
            started = StartedRun(run.id, platform, str(ctx.artifacts.root), frontends, disabled, keep_of(env))
        deadline = gate.deadline(ctx.db)
        heavy = len(planned.work_items) if planned.heavy is None else planned.heavy
        pool = WorkerPool(process_count(heavy))
        cancel = cancel or threading.Event()  # the switch at the end watches it too
        try:
            work = planned.make_work(started, pool, not staged_first)
            if staged_first:
                staging = cast(StagingWork[P], work)
                drains = DrainBook(ctx.db, started.id)
                work = RollingWork(
                    staging,
                    frontends,
                    started.keep,
                    started.id,
                    options=options,
                    drains=drains,
                    cancel=cancel,
                    on_event=on_event,
                    stop=deadline,
                )
            return execute(
                ctx,
                started.id,
                kind,
                planned.work_items,
                work,
                workers,
                on_event,
                cancel,
                options,
                deadline,
                pool=pool,
                costs_before=before,
            )
        finally:
            pool.close()


class _Claim:
    """``claim`` on a thread of its own, started at once."""

    def __init__(self, targets: Sequence[FrontendTarget], stamp: Owner) -> None:
        self._done: Future[None] = Future()
        threading.Thread(target=self._run, args=(targets, stamp), name="claim", daemon=True).start()

    def _run(self, targets: Sequence[FrontendTarget], stamp: Owner) -> None:
        try:
            claim(targets, stamp)
        except BaseException as error:  # handed to the run's thread
            self._done.set_exception(error)
        else:
            self._done.set_result(None)

    def wait(self) -> BaseException | None:
        """Once the claim is over: what it raised, if anything."""
        return self._done.exception()


def refuse_rolling(frontends: Sequence[Frontend]) -> None:
    """A rolling run needs two enabled front-ends at least: one to switch while the other serves."""
    if len(frontends) < 2:
        raise BadInputError(f"--rolling needs at least two enabled front-ends; this environment has {len(frontends)}")


def refuse_drained(frontends: Sequence[Frontend]) -> None:
    """A front-end a run left drained, and that could not be undrained, must be seen to first:
    a run that drains others would have two out of the balancer at once."""
    for frontend in frontends:
        if frontend.drained_by is not None:
            raise StateError(
                f"front-end {frontend.name} is still drained, left so by run {frontend.drained_by}, and its undrain "
                "command failed (see 'frontend list'); put it back in its balancer and fix or clear its --undrain-cmd"
            )


def keep_of(env: EnvironmentRow) -> int:
    """How many older releases each front-end keeps beside the protected ones (``retention``)."""
    return env.keep_releases if env.keep_releases is not None else DEFAULT_KEEP


def default_workers() -> int:
    """Modules compiled at once when the caller does not say: four per core, at most 16.

    Compiling is Python work and disk writes, one module at a time per worker; more modules
    than cores keep the cores busy, and modules waiting together share one disk flush
    (``durability``). Measured on 2 cores, 1,000 modules: 2 workers 6.4 s, 8 workers 3.4 s.
    """
    return min(16, 4 * max(1, os.cpu_count() or 1))


def default_deploy_workers() -> int:
    """Threads of a deploy run when the caller does not say: one per core and one more, at most 9.

    Deploy workers take batches that share their flushes (``work.MAX_BATCH``), so few are
    needed: in big runs they only wait for the deploy processes, one per core; in a run without
    processes more threads only fight over the interpreter lock (2,000 modules on 2 cores: 1-2
    threads 2.8 s, 8 threads 4.1-4.6 s) and starve the window's thread of it.
    """
    return min(9, max(1, os.cpu_count() or 1) + 1)


def platform_spec(ctx: EnvironmentContext, version: str) -> PlatformSpec:
    entry = ctx.catalog.get(version)
    return PlatformSpec(entry.version, entry.capabilities)


def execute(
    ctx: EnvironmentContext,
    run_id: int,
    kind: RunKind,
    items: Sequence[WorkItem[Any]],
    work: RunWork[Any],
    workers: int,
    on_event: EventSink,
    cancel: threading.Event | None,
    options: RunOptions,
    stop: StopCheck | None,
    *,
    pool: WorkerPool,
    costs_before: Mapping[str, TargetStats],
) -> RunOutcome:
    """Run ``work`` over ``items`` for the recorded run ``run_id`` and audit how it ended; ``stop``
    says when it must start no more modules (its change window closed). What the run cost is what
    this process's targets cost since ``costs_before``, plus what ``pool``'s processes report."""
    executor = RunExecutor(
        ctx.db,
        run_id,
        items,
        work,
        workers=workers,
        on_event=on_event,
        cancel=cancel or threading.Event(),
        max_failures=options.max_failures,
        stop=stop,
    )
    status = executor.execute()
    with ctx.db.write() as session:
        audit(session, kind, f"run {run_id}", status)
    costs = added([since(costs_before, shared_stats()), pool.stats()])
    return RunOutcome(run_id, kind, status, RunStats(executor.batches, pool.started, costs))


def name_list(names: Sequence[str], shown: int = 5) -> str:
    """Names for a one-line message: the first few and how many more."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"
