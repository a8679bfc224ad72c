"""Publish runs: a new version of each bundle's module, compiled for the current platform and deployed.

The bundles are checked and their sources stored before anything is recorded; one writer
transaction then records the new versions and the run. Each batch compiles and, for what
compiles, deploys (``publish_batch``). A failed compilation is kept and the module's previous
release stays live.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine.artifacts import ArtifactStore, PendingZip
from app.engine.bundle import load_bundle, prepare_source
from app.engine.compiler import CompileOutcome, PlatformSpec
from app.engine.context import EnvironmentContext
from app.engine.control.gate import PLAIN_REQUEST, ChangeRequest, holds_back_deploys
from app.engine.dependencies import refuse_cycles
from app.engine.errors import BadInputError
from app.engine.events import EventSink, ignore_events
from app.engine.frontend import farm
from app.engine.frontend.farm import DEFAULT_KEEP, Rollout
from app.engine.frontend.registry import Frontend, shared_targets
from app.engine.identity import current_user, utcnow
from app.engine.kinds.base import (
    PlannedRun,
    RunOutcome,
    RunStart,
    StartedRun,
    default_workers,
    name_list,
    platform_spec,
    start_run,
)
from app.engine.kinds.compile_batch import CompileJob
from app.engine.kinds.deploy import DISABLED, rolled_out
from app.engine.kinds.ledger import (
    Compiled,
    Deployed,
    ProducerBook,
    known_compilations,
    record_compilations,
    record_deployments,
)
from app.engine.kinds.publish_batch import publish_batch
from app.engine.kinds.rolling import Switched, Waiting, staged_message, switched_outcome, waiting_of
from app.engine.kinds.unfinished_publish import discard_unreached
from app.engine.kinds.upgrade import CompileWork
from app.engine.manifest import Manifest
from app.engine.runs import records
from app.engine.runs.options import PLAIN_RUN, RunOptions
from app.engine.runs.pool import WorkerPool
from app.engine.runs.work import MAX_BATCH, SPREAD, WorkItem, WorkOutcome
from app.engine.store.models import ModuleRow, ModuleVersionRow
from app.engine.stored_source import without_secret_defaults
from app.engine.vocabulary import ItemStatus, RunKind

# Source zips of a publish wait in memory until the run is recorded; past this many bytes, on disk.
HELD_SOURCES = 64 * 1024 * 1024


def publish(
    ctx: EnvironmentContext,
    bundle_paths: Iterable[Path],
    *,
    workers: int | None = None,
    options: RunOptions = PLAIN_RUN,
    change: ChangeRequest = PLAIN_REQUEST,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """A new version of each bundle's module, compiled for the current platform and deployed;
    ``options`` may only set a failure budget.

    While approvals are required, only compiled: an approved plan deploys it (its items end
    ``prepared``).
    """
    # Each bundle's files are dropped once its source zip is built (a big one straight into a
    # temp file of the store): workers read the stored zip back one module at a time, so a
    # publish of thousands, or of one huge file, does not hold it all in memory.
    ctx.artifacts.sweep()
    manifests: list[Manifest] = []
    sources: list[PendingZip] = []  # emptied once stored; what is left when refused is discarded
    try:
        seen: set[str] = set()
        held = 0  # bytes of source zips still in memory: past HELD_SOURCES, they wait on disk
        for path in bundle_paths:
            manifest, source = _load(Path(path), ctx.artifacts)
            held += len(source.data or b"")
            if held > HELD_SOURCES:
                source = ctx.artifacts.spill(source)
            sources.append(source)
            key = manifest.name.casefold()
            if key in seen:
                raise BadInputError(f"module {manifest.name} is given twice")
            seen.add(key)
            manifests.append(manifest)
        if not manifests:
            raise BadInputError("publish needs at least one bundle")
        return _publish(ctx, manifests, sources, workers, change, on_event, cancel, options)
    finally:
        ctx.artifacts.discard(sources)


def _publish(
    ctx: EnvironmentContext,
    manifests: Sequence[Manifest],
    source_zips: list[PendingZip],
    workers: int | None,
    change: ChangeRequest,
    on_event: EventSink,
    cancel: threading.Event | None,
    options: RunOptions = PLAIN_RUN,
) -> RunOutcome:
    def plan(start: RunStart) -> PlannedRun[CompileJob]:
        refuse_cycles(start.session, manifests)
        # Refuses modules another run holds before anything of the publish is stored.
        new_items, work_items = _record_versions(start.session, manifests, ctx.artifacts, source_zips)
        source_zips.clear()  # stored: the workers read them back one module at a time
        producers = ProducerBook(known_compilations(start.session, start.env.platform_version))

        compile_only = holds_back_deploys(start.env)

        def make_work(run: StartedRun, pool: WorkerPool, switch: bool) -> PublishWork | CompileWork:
            spec = platform_spec(ctx, run.platform)
            if compile_only:
                return CompileWork(run.artifacts, spec, producers, pool)
            return PublishWork(run.artifacts, run.frontends, spec, producers, pool, run.disabled, keep=run.keep)

        return PlannedRun(new_items, work_items, make_work, "publish", locks_modules=False)

    names = name_list([manifest.name for manifest in manifests])
    outcome = start_run(
        ctx,
        RunKind.PUBLISH,
        names,
        plan,
        workers=workers or default_workers(),
        options=options,
        change=change,
        on_event=on_event,
        cancel=cancel,
    )
    discard_unreached(ctx, outcome.run_id, on_event)  # a new version never compiled must not stay the latest
    return outcome


def _load(path: Path, store: ArtifactStore) -> tuple[Manifest, PendingZip]:
    """The bundle's manifest (for the database, secret defaults included) and its source, stored
    without them."""
    bundle = load_bundle(path)
    return bundle.manifest, prepare_source(without_secret_defaults(bundle), store, f"bundle {path}")


def _record_versions(
    session: Session, manifests: Sequence[Manifest], store: ArtifactStore, source_zips: Sequence[PendingZip]
) -> tuple[list[records.NewItem], list[WorkItem[CompileJob]]]:
    """Record a new version of each module and store its source, once nothing refuses the publish:
    a refused one leaves no source behind."""
    now = utcnow()
    who = current_user()
    existing = {
        module.name_key: module
        for module in session.scalars(
            select(ModuleRow).where(
                ModuleRow.name_key.in_([manifest.name.casefold() for manifest in manifests]),
                ModuleRow.deleted_at.is_(None),
            )
        )
    }
    records.refuse_if_locked(session, [m.id for m in existing.values()], "publish")
    sources = store.commit(source_zips)
    # A few statements for the whole publish, not several per bundle: thousands may come at once.
    numbers: dict[int, int] = {}
    existing_ids = [module.id for module in existing.values()]
    for start in range(0, len(existing_ids), 5000):
        numbers.update(
            (module_id, number)
            for module_id, number in session.execute(
                select(ModuleVersionRow.module_id, func.max(ModuleVersionRow.number))
                .where(ModuleVersionRow.module_id.in_(existing_ids[start : start + 5000]))
                .group_by(ModuleVersionRow.module_id)
            )
        )
    modules: list[ModuleRow] = []
    for manifest in manifests:
        module = existing.get(manifest.name.casefold())
        if module is None:
            module = ModuleRow(
                name=manifest.name, name_key=manifest.name.casefold(), created_at=now, config_overrides={}
            )
            session.add(module)
        module.application = manifest.application
        module.description = manifest.description
        modules.append(module)
    session.flush()
    versions = [
        ModuleVersionRow(
            module_id=module.id,
            number=numbers.get(module.id, 0) + 1,
            source_sha256=source,
            manifest=manifest.to_json(),
            depends=",".join(manifest.depends),
            published_at=now,
            published_by=who,
        )
        for module, manifest, source in zip(modules, manifests, sources, strict=True)
    ]
    session.add_all(versions)
    session.flush()
    new_items: list[records.NewItem] = []
    work_items: list[WorkItem[CompileJob]] = []
    for module, manifest, version in zip(modules, manifests, versions, strict=True):
        module.latest_version_id = version.id
        new_items.append(records.NewItem(module.id, module.name, module.application, version.number, None))
        job = CompileJob(
            module.name,
            version.number,
            version.id,
            version.source_sha256,
            config_defaults=dict(manifest.config),
            config_overrides=dict(module.config_overrides or {}),
        )
        work_items.append(WorkItem(module.id, module.name, module.application, version.number, manifest.depends, job))
    return new_items, work_items


@dataclass(frozen=True)
class Published:
    compiled: Compiled
    deployed: Deployed | None


class PublishWork:
    """Compile a new version for the current platform and, when it compiles, deploy it.

    Each batch runs in ``pool``: in worker processes for big runs, else in the calling thread.
    With ``switch`` False what compiles is only staged (the first step of a rolling run): its
    compilation is recorded, its item is ``staged`` until the rolling switch ends it.
    """

    blocks_consumers = False
    blocked_by = "producer"
    max_batch = MAX_BATCH
    spread = SPREAD

    def __init__(
        self,
        artifacts: str,
        frontends: Sequence[Frontend],
        platform: PlatformSpec,
        producers: ProducerBook,
        pool: WorkerPool,
        disabled: Sequence[str] = (),
        *,
        keep: int = DEFAULT_KEEP,
        switch: bool = True,
    ) -> None:
        self._artifacts = artifacts
        self._frontends = list(frontends)
        self._platform = platform
        self._producers = producers
        self._pool = pool
        self._disabled = tuple(disabled)
        self._keep = keep
        self._switch = switch
        self._staged: dict[int, tuple[Compiled, Rollout]] = {}
        self._lock = threading.Lock()

    def perform_batch(self, items: Sequence[WorkItem[CompileJob]]) -> list[WorkOutcome | Exception]:
        jobs = [replace(item.payload, producers=self._producers.producers_named(item.depends)) for item in items]
        results = self._pool.run(
            publish_batch, self._artifacts, self._frontends, self._platform, jobs, self._keep, self._switch
        )
        return [
            result if isinstance(result, Exception) else self._outcome(item, *result)
            for item, result in zip(items, results, strict=True)
        ]

    def _outcome(self, item: WorkItem[CompileJob], outcome: CompileOutcome, rollout: Rollout | None) -> WorkOutcome:
        compiled = Compiled(item.payload.version_id, outcome)
        if not outcome.succeeded or rollout is None:
            return WorkOutcome(ItemStatus.FAILED, "compilation-failed", outcome.reason, Published(compiled, None))
        if not self._switch and rollout.release_id is not None:
            with self._lock:
                self._staged[item.module_id] = (compiled, rollout)
            frontends = {**rollout.frontends, **dict.fromkeys(self._disabled, DISABLED)}
            return WorkOutcome(ItemStatus.STAGED, None, staged_message(rollout), Published(compiled, None), frontends)
        # The compilation id is known only once recorded; 0 is replaced in record().
        deployed = rolled_out(rollout, self._disabled, 0)
        if deployed.status != ItemStatus.DEPLOYED:
            return replace(deployed, result=Published(compiled, None))
        return replace(
            deployed,
            message=f"version {item.version} compiled and release {rollout.release_id} is live",
            result=Published(compiled, deployed.result),
        )

    def waiting(self, item: WorkItem[CompileJob], outcome: WorkOutcome) -> Waiting | None:
        with self._lock:
            found = self._staged.get(item.module_id)
        return None if found is None else waiting_of(item.key, item.module, found[1])

    def switched(self, item: WorkItem[CompileJob], outcome: WorkOutcome, result: Switched) -> WorkOutcome:
        with self._lock:
            compiled, rollout = self._staged[item.module_id]
        assert rollout.release_id is not None
        # The compilation id is known only once recorded; 0 is replaced in record().
        done = switched_outcome(result, rollout.release_id, Deployed(0, rollout.release_id))
        published = Published(compiled, done.result)
        frontends = {**(done.frontends or {}), **dict.fromkeys(self._disabled, DISABLED)}
        return replace(done, result=published, frontends=frontends)

    def note_done(self, item: WorkItem[CompileJob], outcome: WorkOutcome) -> None:
        published: Published | None = outcome.result
        self._producers.note(item.module, published is not None and published.compiled.outcome.succeeded)

    def record(self, session: Session, run_id: int, done: Sequence[tuple[WorkItem[CompileJob], WorkOutcome]]) -> None:
        published: list[tuple[int, Published]] = [(item.module_id, outcome.result) for item, outcome in done]
        if any(p.deployed is not None for _m, p in published):
            farm.flush_all(shared_targets(self._frontends))  # on disk before recorded
        ids = record_compilations(session, [p.compiled for _m, p in published], self._platform.version)
        record_deployments(
            session,
            self._frontends,
            [
                (module_id, Deployed(ids[p.compiled.version_id], p.deployed.release_id))
                for module_id, p in published
                if p.deployed is not None
            ],
            run_id,
        )
