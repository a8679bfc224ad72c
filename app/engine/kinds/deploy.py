"""Deploy runs: Deploy All (rules.md#deploy-all, rules.md#retry) and the deploy of chosen modules or an application.

Setup plans every module in one writer transaction and locks those it deploys; each batch of
ready modules is then made live on every front-end (``deploy_batch``), in worker processes for
big runs; the coordinator flushes the switches once and records them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.config import declared_defaults, effective_config
from app.engine.context import EnvironmentContext
from app.engine.control.entry import DEPLOY, PlanEntry, config_sha256
from app.engine.control.gate import PLAIN_REQUEST, ChangeRequest
from app.engine.events import EventSink, ignore_events
from app.engine.frontend import farm
from app.engine.frontend.content import ReleaseRequest
from app.engine.frontend.kinds import feeding_of
from app.engine.frontend.registry import Frontend, flushed_by_batches, shared_targets
from app.engine.kinds.base import PlannedRun, RunOutcome, RunStart, StartedRun, default_deploy_workers, start_run
from app.engine.kinds.deploy_batch import deploy_batch
from app.engine.kinds.ledger import Deployed, record_deployments
from app.engine.kinds.rolling import Switched, Waiting, staged_message, switched_outcome, waiting_of
from app.engine.retention import staged_releases
from app.engine.runs import records
from app.engine.runs.options import PLAIN_RUN, RunOptions
from app.engine.runs.planner import DeployAllPlanner, DeployPlan
from app.engine.runs.pool import WorkerPool
from app.engine.runs.work import MAX_BATCH, SPREAD, WorkItem, WorkOutcome
from app.engine.store.models import ModuleRow, ModuleVersionRow
from app.engine.vocabulary import ItemStatus, RunKind


@dataclass(frozen=True)
class Deployable:
    """A deploy item's payload: the compilation to make live, as the release to write."""

    compilation_id: int
    release: ReleaseRequest

    def plan_entry(self) -> PlanEntry:
        release = self.release
        return PlanEntry(DEPLOY, release.release_id, release.artifact_sha256, config_sha256(release.config))


def deploy_all(
    ctx: EnvironmentContext,
    *,
    workers: int | None = None,
    options: RunOptions = PLAIN_RUN,
    change: ChangeRequest = PLAIN_REQUEST,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Deploy every prepared module that is not live yet (rules.md#deploy-all, rules.md#retry); ``options.rolling``: one
    front-end at a time, each followed by its health check (rules.md#rolling)."""
    return deploy_run(ctx, RunKind.DEPLOY_ALL, None, workers, on_event, cancel, options, change)


def deploy_modules(
    ctx: EnvironmentContext,
    module_ids: Sequence[int],
    *,
    workers: int | None = None,
    options: RunOptions = PLAIN_RUN,
    change: ChangeRequest = PLAIN_REQUEST,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Deploy chosen modules (one at a time, or an application) by the same rules as Deploy All."""
    return deploy_run(ctx, RunKind.DEPLOY, list(module_ids), workers, on_event, cancel, options, change)


def deploy_run(
    ctx: EnvironmentContext,
    kind: RunKind,
    module_ids: list[int] | None,
    workers: int | None,
    on_event: EventSink,
    cancel: threading.Event | None,
    options: RunOptions = PLAIN_RUN,
    change: ChangeRequest = PLAIN_REQUEST,
) -> RunOutcome:
    """A deploy run; of kind ``STAGE`` it writes every planned release and switches nothing."""
    target = "all modules" if module_ids is None else f"{len(module_ids)} module(s)"
    return start_run(
        ctx,
        kind,
        target,
        deploy_planner(kind, module_ids),
        workers=workers or default_deploy_workers(),
        options=options,
        change=change,
        on_event=on_event,
        cancel=cancel,
    )


def deploy_planner(kind: RunKind, module_ids: list[int] | None) -> Callable[[RunStart], PlannedRun[Deployable]]:
    """The plan of a deploy run: the one a run carries out, a dry run shows and a saved plan holds."""

    def plan(start: RunStart) -> PlannedRun[Deployable]:
        return _planned(start, kind, module_ids)

    return plan


def _planned(start: RunStart, kind: RunKind, module_ids: list[int] | None) -> PlannedRun[Deployable]:
    session = start.session
    plan = DeployAllPlanner(session, start.env.platform_version, shared_targets(start.frontends)).plan(module_ids)
    items = [
        records.NewItem(
            i.module_id,
            i.module,
            i.application,
            i.version,
            i.compilation_id,
            ItemStatus.PENDING if i.deploys else ItemStatus.SKIPPED,
            i.reason,
            i.detail,
        )
        for i in plan.items
    ]
    work_items = _work_items(session, plan)
    staged = staged_releases(session, [item.module_id for item in work_items])
    # Switching a staged release is a few system calls, not Python work: only the releases still
    # to write are worth worker processes, and the rest go in bigger batches that share flushes.
    stages = kind == RunKind.STAGE or start.rolling
    to_write = [i for i in work_items if stages or i.payload.release.release_id not in staged.get(i.module, ())]
    feeding = feeding_of(frontend.kind for frontend in start.frontends)  # what the front-ends want
    batch = max(SWITCH_BATCH, feeding.batch) if len(to_write) * 2 < len(work_items) else feeding.batch

    def make_work(run: StartedRun, pool: WorkerPool, switch: bool) -> DeployWork:
        return DeployWork(
            run.artifacts,
            run.frontends,
            pool,
            run.disabled,
            keep=run.keep,
            switch=switch and kind != RunKind.STAGE,
            stage_only=kind == RunKind.STAGE,
            also_keep=staged,
            max_batch=batch,
            spread=feeding.spread,
        )

    # The front-ends the plan could not read are said from the run's start.
    heavy = len(to_write) if feeding.worker_processes else 0
    return PlannedRun(items, work_items, make_work, "deploy", heavy=heavy, message=plan.note)


def _work_items(session: Session, plan: DeployPlan) -> list[WorkItem[Deployable]]:
    deploying = plan.to_deploy
    ids = [item.module_id for item in deploying]
    configs: dict[int, tuple[dict[str, str], dict[str, str]]] = {}
    for chunk_start in range(0, len(ids), 5000):
        chunk = ids[chunk_start : chunk_start + 5000]
        for module_id, overrides, manifest in session.execute(
            select(ModuleRow.id, ModuleRow.config_overrides, ModuleVersionRow.manifest)
            .join(ModuleVersionRow, ModuleVersionRow.id == ModuleRow.latest_version_id)
            .where(ModuleRow.id.in_(chunk))
        ):
            defaults = declared_defaults(manifest)
            configs[module_id] = (defaults, dict(overrides or {}))
    work = []
    for item in deploying:
        assert item.compilation_id is not None and item.artifact_sha256 is not None
        defaults, overrides = configs[item.module_id]
        config = effective_config(defaults, overrides)
        platform = item.platform or plan.platform_version
        release = ReleaseRequest(item.module, item.version, platform, item.artifact_sha256, config)
        payload = Deployable(item.compilation_id, release)
        work.append(WorkItem(item.module_id, item.module, item.application, item.version, item.depends, payload))
    return work


def rolled_out(rollout: farm.Rollout, disabled: Sequence[str], compilation_id: int) -> WorkOutcome:
    """A deploy item's outcome from how its release went on each front-end."""
    frontends = {**rollout.frontends, **dict.fromkeys(disabled, DISABLED)}
    if rollout.release_id is None:
        message = rollout.error.message if rollout.error is not None else "the release was not deployed"
        return WorkOutcome(ItemStatus.FAILED, message, message, None, frontends)
    live = sum(state == farm.LIVE for state in frontends.values())
    where = "front-end" if live == 1 else "front-ends"
    skipped = f"; not on disabled {', '.join(disabled)}" if disabled else ""
    return WorkOutcome(
        ItemStatus.DEPLOYED,
        None,
        f"release {rollout.release_id} live on {live} {where}{skipped}",
        Deployed(compilation_id, rollout.release_id),
        frontends,
    )


DISABLED = "disabled"  # a front-end taken out of runs: reported, not written
SWITCH_BATCH = 64  # modules per batch when most releases are staged already


class DeployWork:
    """Make a compilation live on every front-end (all of them or none).

    Each batch's file work runs in ``pool``: in worker processes for big runs, else in the
    calling thread. With ``switch`` False it only stages (a stage run, or the first step of a
    rolling run): items end ``staged`` and nothing is recorded.
    """

    blocks_consumers = True

    def __init__(
        self,
        artifacts: str,
        frontends: Sequence[Frontend],
        pool: WorkerPool,
        disabled: Sequence[str] = (),
        *,
        keep: int = farm.DEFAULT_KEEP,
        switch: bool = True,
        stage_only: bool = False,
        blocked_by: str = "producer",
        also_keep: Mapping[str, frozenset[str]] | None = None,
        max_batch: int = MAX_BATCH,
        spread: int = SPREAD,
    ) -> None:
        self._artifacts = artifacts
        self._frontends = list(frontends)
        self._pool = pool
        self._disabled = tuple(disabled)
        self._keep = keep
        self._switch = switch
        self._stage_only = stage_only  # a stage run: nothing it stages is switched by this process
        self.blocked_by = blocked_by  # what a blocked item names: its producer, or (rollback) its consumer
        self._staged: dict[int, farm.Rollout] = {}
        self._lock = threading.Lock()
        self._also_keep = dict(also_keep or {})  # by module: staged releases pruning must keep
        self.max_batch = max_batch  # modules per batch, at most
        self.spread = spread  # batches per worker while many modules are ready
        # The front-ends whose switches each batch makes durable itself; record() flushes the others.
        self._flushed_by_batches = flushed_by_batches(self._frontends)

    def perform_batch(self, items: Sequence[WorkItem[Deployable]]) -> list[WorkOutcome | Exception]:
        """Write every item's release, then make them all live together: three shared disk flushes.

        The switches' flush is shared by the whole batch of records: record() flushes first.
        """
        requests = [item.payload.release for item in items]
        kept = {
            request.module: self._also_keep[request.module] for request in requests if request.module in self._also_keep
        }
        rollouts = self._pool.run(
            deploy_batch, self._artifacts, self._frontends, requests, self._keep, self._switch, kept, self._stage_only
        )
        if not self._switch:
            return [self._staged_out(item, rollout) for item, rollout in zip(items, rollouts, strict=True)]
        return [
            rolled_out(rollout, self._disabled, item.payload.compilation_id)
            for item, rollout in zip(items, rollouts, strict=True)
        ]

    def _staged_out(self, item: WorkItem[Deployable], rollout: farm.Rollout) -> WorkOutcome:
        frontends = {**rollout.frontends, **dict.fromkeys(self._disabled, DISABLED)}
        if rollout.release_id is None:
            message = rollout.error.message if rollout.error is not None else "the release was not staged"
            return WorkOutcome(ItemStatus.FAILED, message, message, None, frontends)
        with self._lock:
            self._staged[item.module_id] = rollout
        return WorkOutcome(ItemStatus.STAGED, None, staged_message(rollout), None, frontends)

    def waiting(self, item: WorkItem[Deployable], outcome: WorkOutcome) -> Waiting | None:
        with self._lock:
            rollout = self._staged.get(item.module_id)
        return None if rollout is None else waiting_of(item.key, item.module, rollout)

    def switched(self, item: WorkItem[Deployable], outcome: WorkOutcome, result: Switched) -> WorkOutcome:
        release_id = item.payload.release.release_id
        done = switched_outcome(result, release_id, Deployed(item.payload.compilation_id, release_id))
        return replace(
            done,
            frontends={**done.frontends, **dict.fromkeys(self._disabled, DISABLED)}
            if done.frontends is not None
            else None,
        )

    def note_done(self, item: WorkItem[Deployable], outcome: WorkOutcome) -> None:
        pass

    def record(self, session: Session, run_id: int, done: Sequence[tuple[WorkItem[Deployable], WorkOutcome]]) -> None:
        left = [target for target in shared_targets(self._frontends) if target.name not in self._flushed_by_batches]
        farm.flush_all(left)  # on disk before recorded as deployed
        deployed = [(item.module_id, outcome.result) for item, outcome in done]
        record_deployments(session, self._frontends, deployed, run_id)
