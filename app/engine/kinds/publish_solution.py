"""Publish-solution runs (rules.md#publish-solution): the fallback when Deploy All keeps failing.

Each chosen module's latest version is compiled again from its stored source for the current
platform (a new compilation that replaces the prepared one) and deployed, producers first, even
when it is already deployed. The work is a publish's (``publish.PublishWork``) without a new
version; unlike a publish, a module that fails blocks its consumers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.config import declared_defaults
from app.engine.context import EnvironmentContext
from app.engine.control.gate import PLAIN_REQUEST, ChangeRequest
from app.engine.events import EventSink, ignore_events
from app.engine.kinds.base import (
    PlannedRun,
    RunOutcome,
    RunStart,
    StartedRun,
    default_workers,
    platform_spec,
    start_run,
)
from app.engine.kinds.compile_batch import CompileJob
from app.engine.kinds.ledger import ProducerBook, known_compilations
from app.engine.kinds.publish import PublishWork
from app.engine.runs import records
from app.engine.runs.options import PLAIN_RUN, RunOptions
from app.engine.runs.pool import WorkerPool
from app.engine.runs.work import WorkItem
from app.engine.store.models import ModuleRow, ModuleVersionRow
from app.engine.vocabulary import RunKind


class SolutionWork(PublishWork):
    """A publish's compile-and-deploy, where a failed module blocks its consumers (rules.md#order)."""

    blocks_consumers = True


def publish_solution(
    ctx: EnvironmentContext,
    module_ids: Sequence[int] | None = None,
    *,
    workers: int | None = None,
    options: RunOptions = PLAIN_RUN,
    change: ChangeRequest = PLAIN_REQUEST,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Recompile and deploy the chosen modules (None: every module), even those already deployed."""
    target = "all modules" if module_ids is None else f"{len(module_ids)} module(s)"
    return start_run(
        ctx,
        RunKind.PUBLISH_SOLUTION,
        target,
        solution_planner(ctx, module_ids),
        workers=workers or default_workers(),
        options=options,
        change=change,
        on_event=on_event,
        cancel=cancel,
    )


def solution_planner(
    ctx: EnvironmentContext, module_ids: Sequence[int] | None
) -> Callable[[RunStart], PlannedRun[CompileJob]]:
    """The plan of a publish-solution run: what a run carries out and a saved plan holds."""

    def plan(start: RunStart) -> PlannedRun[CompileJob]:
        new_items, work_items = _chosen(start.session, module_ids)
        platform = start.env.platform_version
        producers = ProducerBook(known_compilations(start.session, platform))

        def make_work(run: StartedRun, pool: WorkerPool, switch: bool) -> SolutionWork:
            spec = platform_spec(ctx, run.platform)
            return SolutionWork(
                run.artifacts, run.frontends, spec, producers, pool, run.disabled, keep=run.keep, switch=switch
            )

        return PlannedRun(new_items, work_items, make_work, "publish solution", note=f", {len(new_items)} module(s)")

    return plan


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
