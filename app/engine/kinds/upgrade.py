"""Upgrade runs: move the environment to a catalog version and prepare every module for it.

Preparing is compiling each module's latest version for the new platform, producers first;
the front-ends keep running what they had until modules are deployed. Upgrading to the current
version again prepares only what failed or is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.catalog import compare_versions
from app.engine.compiler import CompileOutcome, PlatformSpec
from app.engine.context import EnvironmentContext
from app.engine.errors import BadInputError
from app.engine.events import EventSink, ignore_events
from app.engine.identity import current_user, utcnow
from app.engine.kinds.base import (
    PlannedRun,
    RunOutcome,
    RunStart,
    StartedRun,
    default_workers,
    platform_spec,
    start_run,
)
from app.engine.kinds.compile_batch import CompileJob, compile_batch
from app.engine.kinds.ledger import Compiled, ProducerBook, known_compilations, record_compilations
from app.engine.runs import records
from app.engine.runs.pool import WorkerPool
from app.engine.runs.work import MAX_BATCH, SPREAD, WorkItem, WorkOutcome
from app.engine.store.models import ModuleRow, ModuleVersionRow, PlatformUpgradeRow
from app.engine.vocabulary import ItemStatus, RunKind


def upgrade(
    ctx: EnvironmentContext,
    to_version: str,
    *,
    workers: int | None = None,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Move to ``to_version`` and prepare every module for it; for the current version, re-prepare
    only what failed or is missing."""
    target = ctx.catalog.get(to_version).version
    ctx.artifacts.sweep()

    def plan(start: RunStart) -> PlannedRun[CompileJob]:
        env = start.env
        current = env.platform_version
        if compare_versions(target, current) < 0:
            raise BadInputError(f"cannot downgrade from {current} to {target}")
        items, work_items = _modules_to_prepare(start.session, target)
        env.platform_version = target
        producers = ProducerBook(known_compilations(start.session, target))

        def make_work(run: StartedRun, pool: WorkerPool, switch: bool) -> CompileWork:
            return CompileWork(run.artifacts, platform_spec(ctx, target), producers, pool)

        def recorded(session: Session, run_id: int) -> None:
            if target != current:  # preparing the current version again is no upgrade
                upgrade = PlatformUpgradeRow(
                    from_version=current,
                    to_version=target,
                    started_by=current_user(),
                    started_at=utcnow(),
                    run_id=run_id,
                )
                session.add(upgrade)

        return PlannedRun(
            items,
            work_items,
            make_work,
            "upgrade",
            locks_modules=False,
            platform=target,
            note=f", {len(items)} module(s)",
            recorded=recorded,
            audited_as=f"{current} -> {target}",
        )

    return start_run(
        ctx, RunKind.UPGRADE, to_version, plan, workers=workers or default_workers(), on_event=on_event, cancel=cancel
    )


def _modules_to_prepare(session: Session, platform: str) -> tuple[list[records.NewItem], list[WorkItem[CompileJob]]]:
    prepared = {name.casefold() for name, ok in known_compilations(session, platform).items() if ok}
    rows = session.execute(
        select(ModuleRow.id, ModuleRow.name, ModuleRow.application, ModuleVersionRow)
        .join(ModuleVersionRow, ModuleVersionRow.id == ModuleRow.latest_version_id)
        .where(ModuleRow.deleted_at.is_(None))
        .order_by(ModuleRow.application, ModuleRow.name)
    ).all()
    items: list[records.NewItem] = []
    work_items: list[WorkItem[CompileJob]] = []
    for module_id, name, application, version in rows:
        if name.casefold() in prepared:
            continue
        items.append(records.NewItem(module_id, name, application, version.number, None))
        depends = tuple(version.depends.split(",")) if version.depends else ()
        job = CompileJob(name, version.number, version.id, version.source_sha256)
        work_items.append(WorkItem(module_id, name, application, version.number, depends, job))
    return items, work_items


class CompileWork:
    """Prepare modules for a platform version (an upgrade), producers first.

    Each batch compiles in ``pool``: in worker processes for big runs, else in the calling thread.
    """

    blocks_consumers = False
    blocked_by = "producer"
    max_batch = MAX_BATCH
    spread = SPREAD

    def __init__(self, artifacts: str, platform: PlatformSpec, producers: ProducerBook, pool: WorkerPool) -> None:
        self._artifacts = artifacts
        self._platform = platform
        self._producers = producers
        self._pool = pool

    def perform_batch(self, items: Sequence[WorkItem[CompileJob]]) -> list[WorkOutcome | Exception]:
        # Producers are always finished before their consumers are handed out.
        jobs = [replace(item.payload, producers=self._producers.producers_named(item.depends)) for item in items]
        results = self._pool.run(compile_batch, self._artifacts, self._platform, jobs)
        return [
            result if isinstance(result, Exception) else self._outcome(item, result)
            for item, result in zip(items, results, strict=True)
        ]

    def _outcome(self, item: WorkItem[CompileJob], outcome: CompileOutcome) -> WorkOutcome:
        compiled = Compiled(item.payload.version_id, outcome)
        if outcome.succeeded:
            return WorkOutcome(ItemStatus.PREPARED, None, f"prepared for {self._platform.version}", compiled)
        return WorkOutcome(ItemStatus.FAILED, "compilation-failed", outcome.reason, compiled)

    def note_done(self, item: WorkItem[CompileJob], outcome: WorkOutcome) -> None:
        self._producers.note(item.module, outcome.status == ItemStatus.PREPARED)

    def record(self, session: Session, run_id: int, done: Sequence[tuple[WorkItem[CompileJob], WorkOutcome]]) -> None:
        record_compilations(session, [outcome.result for _item, outcome in done], self._platform.version)
