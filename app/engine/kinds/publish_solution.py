"""Publish-solution runs (section 8.3): the fallback when Deploy All keeps failing.

Each chosen module's latest version is compiled again from its stored source for the current
platform (a new compilation that replaces the prepared one) and deployed, producers first, even
when it is already deployed. The work is a publish's (``publish.PublishWork``) without a new
version; unlike a publish, a module that fails blocks its consumers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.audit import audit, audited
from app.engine.config import declared_defaults
from app.engine.context import EnvironmentContext
from app.engine.events import EventSink, ignore_events
from app.engine.frontend.registry import enabled, targets_in_use
from app.engine.kinds.base import RunOutcome, default_workers, execute, platform_spec
from app.engine.kinds.compile_batch import CompileJob
from app.engine.kinds.deploy import keep_of, refuse_rolling
from app.engine.kinds.ledger import ProducerBook, known_compilations
from app.engine.kinds.publish import PublishWork
from app.engine.kinds.recovery import begin_operation
from app.engine.kinds.rolling import RollingWork
from app.engine.lookup import frontends_of_session
from app.engine.runs import records
from app.engine.runs.pool import WorkerPool, process_count
from app.engine.runs.work import RunWork, WorkItem
from app.engine.store.models import ModuleRow, ModuleVersionRow
from app.engine.vocabulary import RunKind


class SolutionWork(PublishWork):
    """A publish's compile-and-deploy, where a failed module blocks its consumers (rule 7)."""

    blocks_consumers = True


def publish_solution(
    ctx: EnvironmentContext,
    module_ids: Sequence[int] | None = None,
    *,
    workers: int | None = None,
    rolling: bool = False,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Recompile and deploy the chosen modules (None: every module), even those already deployed."""
    count = workers or default_workers()
    target = "all modules" if module_ids is None else f"{len(module_ids)} module(s)"
    with targets_in_use():
        with audited(ctx, RunKind.PUBLISH_SOLUTION, target), ctx.db.write() as session:
            env = begin_operation(session)
            records.refuse_if_exclusive_active(session, RunKind.PUBLISH_SOLUTION)
            every = frontends_of_session(session)
            frontends = enabled(every)
            if rolling:
                refuse_rolling(frontends)
            new_items, work_items = _chosen(session, module_ids)
            records.refuse_if_locked(session, [item.module_id for item in new_items], "publish solution")
            run = records.create_run(
                session, RunKind.PUBLISH_SOLUTION, env.platform_version, new_items, count, rolling=rolling
            )
            producers = ProducerBook(known_compilations(session, env.platform_version))
            disabled = [frontend.name for frontend in every if not frontend.enabled]
            audit(session, RunKind.PUBLISH_SOLUTION, target, "started", f"run {run.id}, {len(new_items)} module(s)")
            run_id, platform, keep = run.id, env.platform_version, keep_of(env)
        pool = WorkerPool(process_count(len(work_items)))
        try:
            work = SolutionWork(
                str(ctx.artifacts.root),
                frontends,
                platform_spec(ctx, platform),
                producers,
                pool,
                disabled,
                keep=keep,
                switch=not rolling,
            )
            chosen: RunWork[CompileJob] = RollingWork(work, frontends, keep, run_id, on_event) if rolling else work
            return execute(ctx, run_id, RunKind.PUBLISH_SOLUTION, work_items, chosen, count, on_event, cancel)
        finally:
            pool.close()


def _chosen(
    session: Session, module_ids: Sequence[int] | None
) -> tuple[list[records.NewItem], list[WorkItem[CompileJob]]]:
    query = (
        select(ModuleRow, ModuleVersionRow)
        .join(ModuleVersionRow, ModuleVersionRow.id == ModuleRow.latest_version_id)
        .where(ModuleRow.deleted_at.is_(None))
        .order_by(ModuleRow.application, ModuleRow.name)
    )
    if module_ids is not None:
        query = query.where(ModuleRow.id.in_(list(module_ids)))
    new_items: list[records.NewItem] = []
    work_items: list[WorkItem[CompileJob]] = []
    for module, version in session.execute(query):
        new_items.append(records.NewItem(module.id, module.name, module.application, version.number, None))
        depends = tuple(version.depends.split(",")) if version.depends else ()
        job = CompileJob(
            module.name,
            version.number,
            version.id,
            version.source_sha256,
            config_defaults=declared_defaults(version.manifest),  # the stored source has no secret's
            config_overrides=dict(module.config_overrides or {}),
        )
        work_items.append(WorkItem(module.id, module.name, module.application, version.number, depends, job))
    return new_items, work_items
