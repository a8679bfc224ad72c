"""Rollback runs (rules.md#rollback): make live again, on every front-end, the release live before.

``rollback RUN`` goes back, for each module that run deployed and that still runs that run's
release, to the release that was live when the run started (``RunItemRow.previous_*``, recorded
by every run). ``rollback MODULE`` goes back one release: to the one live before the deploy
that made the current release live, so that rolling back again goes further back, not forward.

A rollback is a deploy of those older compilations: the same all-or-none stage and switch, the
same locks, the same record, so ``modules`` and Deploy All see the rolled-back state. A release
a front-end no longer holds is written again from its artifact. The order is reversed: a
module's consumers switch back before it does, and a consumer that fails to switch back blocks
its producers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.config import declared_defaults, effective_config
from app.engine.context import EnvironmentContext
from app.engine.control.gate import PLAIN_REQUEST, ChangeRequest
from app.engine.errors import BadInputError
from app.engine.events import EventSink, ignore_events
from app.engine.frontend.content import ReleaseRequest
from app.engine.kinds.base import (
    PlannedRun,
    RunOutcome,
    RunStart,
    StartedRun,
    default_deploy_workers,
    name_list,
    start_run,
)
from app.engine.kinds.deploy import Deployable, DeployWork
from app.engine.retention import staged_releases
from app.engine.runs import records
from app.engine.runs.options import PLAIN_RUN, RunOptions
from app.engine.runs.pool import WorkerPool
from app.engine.runs.work import WorkItem
from app.engine.store.models import CompilationRow, DeploymentRow, ModuleRow, ModuleVersionRow, RunItemRow, RunRow
from app.engine.vocabulary import ItemStatus, RunKind, SkipReason


@dataclass(frozen=True)
class RollbackItem:
    """One module of a rollback: the release it goes back to, or why it stays (``reason``)."""

    module_id: int
    module: str
    application: str
    current_release: str | None
    target_release: str | None
    target_version: int | None
    target_platform: str | None
    compilation_id: int | None
    reason: SkipReason | None = None
    detail: str | None = None
    depends: tuple[str, ...] = ()

    @property
    def rolls_back(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback would do; ``run_id`` is the run rolled back, None for chosen modules."""

    run_id: int | None
    items: tuple[RollbackItem, ...]

    @property
    def to_roll_back(self) -> tuple[RollbackItem, ...]:
        return tuple(item for item in self.items if item.rolls_back)


_Planner = Callable[[Session], "RollbackPlan"]


@dataclass(frozen=True)
class _Target:
    release: str
    compilation_id: int


def plan_run_rollback(session: Session, run_id: int) -> RollbackPlan:
    """The rollback of run ``run_id``; bad input when there is no such run or it deployed nothing."""
    run = session.get(RunRow, run_id)
    if run is None:
        raise BadInputError(f"there is no run {run_id}")
    rows = session.execute(
        select(RunItemRow, ModuleRow)
        .join(ModuleRow, ModuleRow.id == RunItemRow.module_id)
        .where(RunItemRow.run_id == run_id, RunItemRow.status == ItemStatus.DEPLOYED)
        .order_by(RunItemRow.position)
    ).all()
    made = _releases_made_live(session, run_id)
    if not rows or not made:
        raise BadInputError(f"run {run_id} ({run.kind}) deployed nothing; there is nothing to roll back")
    items = []
    for item, module in rows:
        release, first_row = made.get(module.id, (None, 0))
        if module.deleted_at is not None or release is None or module.deployed_release != release:
            live = module.deployed_release or "nothing"
            now = "it was deleted" if module.deleted_at is not None else f"it runs {live}"
            items.append(_skip(module, SkipReason.CHANGED_SINCE, f"{now} now, not release {release} of run {run_id}"))
            continue
        target = _recorded_previous(item) or _earlier_in_history(session, module.id, release, first_row)
        if target is not None and target.release == release:  # e.g. a publish solution that changed nothing
            items.append(_skip(module, SkipReason.NO_PREVIOUS_RELEASE, f"{release} was live before run {run_id} too"))
            continue
        items.append(_planned(session, module, target, f"nothing was live before run {run_id}"))
    return RollbackPlan(run_id, tuple(items))


def plan_module_rollback(session: Session, module_ids: Sequence[int]) -> RollbackPlan:
    """Each module one release back: to the release live before its live release was deployed."""
    items = []
    for module_id in module_ids:
        module = session.get(ModuleRow, module_id)
        assert module is not None
        if module.deployed_release is None:
            items.append(_skip(module, SkipReason.NO_PREVIOUS_RELEASE, "it is not live"))
            continue
        items.append(_planned(session, module, _one_back(session, module), "no release was live before this one"))
    return RollbackPlan(None, tuple(items))


def _releases_made_live(session: Session, run_id: int) -> dict[int, tuple[str, int]]:
    """Per module, the release the run made live and the first history row saying so."""
    found: dict[int, tuple[str, int]] = {}
    for row_id, module_id, release in session.execute(
        select(DeploymentRow.id, DeploymentRow.module_id, DeploymentRow.release_id)
        .where(DeploymentRow.run_id == run_id)
        .order_by(DeploymentRow.id)
    ):
        found.setdefault(module_id, (release, row_id))
    return found


def _recorded_previous(item: RunItemRow) -> _Target | None:
    if item.previous_release is None or item.previous_compilation_id is None:
        return None
    return _Target(item.previous_release, item.previous_compilation_id)


def _earlier_in_history(session: Session, module_id: int, release: str, before_row: int) -> _Target | None:
    """The release live before history row ``before_row`` (for runs recorded before 0004)."""
    row = session.execute(
        select(DeploymentRow.release_id, DeploymentRow.compilation_id)
        .where(DeploymentRow.module_id == module_id, DeploymentRow.id < before_row, DeploymentRow.release_id != release)
        .order_by(DeploymentRow.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _Target(row[0], row[1])


def _one_back(session: Session, module: ModuleRow) -> _Target | None:
    """The release live before the latest forward deploy (not a rollback) of the live release."""
    release = module.deployed_release
    assert release is not None
    forward = session.execute(
        select(DeploymentRow.id, DeploymentRow.run_id)
        .outerjoin(RunRow, RunRow.id == DeploymentRow.run_id)
        .where(
            DeploymentRow.module_id == module.id,
            DeploymentRow.release_id == release,
            (RunRow.kind.is_(None)) | (RunRow.kind != RunKind.ROLLBACK),
        )
        .order_by(DeploymentRow.id.desc())
        .limit(1)
    ).first()
    if forward is None:
        return None
    row_id, run_id = forward
    first = (
        session.scalar(
            select(DeploymentRow.id)
            .where(DeploymentRow.module_id == module.id, DeploymentRow.run_id == run_id)
            .order_by(DeploymentRow.id)
            .limit(1)
        )
        if run_id is not None
        else row_id
    )
    if run_id is not None:
        item = session.scalars(
            select(RunItemRow).where(RunItemRow.run_id == run_id, RunItemRow.module_id == module.id)
        ).first()
        recorded = _recorded_previous(item) if item is not None else None
        if recorded is not None and recorded.release != release:
            return recorded
    return _earlier_in_history(session, module.id, release, first or row_id)


def _skip(module: ModuleRow, reason: SkipReason, detail: str) -> RollbackItem:
    return RollbackItem(
        module.id, module.name, module.application, module.deployed_release, None, None, None, None, reason, detail
    )


def _planned(session: Session, module: ModuleRow, target: _Target | None, none_detail: str) -> RollbackItem:
    if target is None:
        return _skip(module, SkipReason.NO_PREVIOUS_RELEASE, none_detail)
    row = session.execute(
        select(ModuleVersionRow.number, CompilationRow.platform_version, CompilationRow.artifact_sha256)
        .join(ModuleVersionRow, ModuleVersionRow.id == CompilationRow.module_version_id)
        .where(CompilationRow.id == target.compilation_id, CompilationRow.succeeded.is_(True))
    ).first()
    if row is None or row[2] is None:
        return _skip(module, SkipReason.NO_PREVIOUS_RELEASE, f"the compilation of release {target.release} is gone")
    version, platform, _sha = row
    depends = session.scalar(select(ModuleVersionRow.depends).where(ModuleVersionRow.id == module.latest_version_id))
    return RollbackItem(
        module.id,
        module.name,
        module.application,
        module.deployed_release,
        target.release,
        version,
        platform,
        target.compilation_id,
        depends=tuple(depends.split(",")) if depends else (),
    )


def rollback_run(
    ctx: EnvironmentContext,
    run_id: int,
    *,
    workers: int | None = None,
    options: RunOptions = PLAIN_RUN,
    change: ChangeRequest = PLAIN_REQUEST,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Make the releases live before run ``run_id`` live again (rules.md#rollback)."""
    return _rollback(ctx, f"run {run_id}", run_rollback_planner(run_id), workers, options, change, on_event, cancel)


def rollback_modules(
    ctx: EnvironmentContext,
    module_ids: Sequence[int],
    *,
    workers: int | None = None,
    options: RunOptions = PLAIN_RUN,
    change: ChangeRequest = PLAIN_REQUEST,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Take each chosen module back one release (rules.md#rollback)."""
    ids = list(module_ids)
    planner = module_rollback_planner(ids)
    return _rollback(ctx, f"{len(ids)} module(s)", planner, workers, options, change, on_event, cancel)


def run_rollback_planner(run_id: int) -> Callable[[RunStart], PlannedRun[Deployable]]:
    """The plan of ``rollback RUN``: what a run carries out and a saved plan holds."""
    return _planner(lambda session: plan_run_rollback(session, run_id))


def module_rollback_planner(module_ids: Sequence[int]) -> Callable[[RunStart], PlannedRun[Deployable]]:
    """The plan of ``rollback MODULE ...``."""
    ids = list(module_ids)
    return _planner(lambda session: plan_module_rollback(session, ids))


def _planner(decide: _Planner) -> Callable[[RunStart], PlannedRun[Deployable]]:
    def plan(start: RunStart) -> PlannedRun[Deployable]:
        return _planned_rollback(start, decide(start.session))

    return plan


def _rollback(
    ctx: EnvironmentContext,
    target: str,
    plan: Callable[[RunStart], PlannedRun[Deployable]],
    workers: int | None,
    options: RunOptions,
    change: ChangeRequest,
    on_event: EventSink,
    cancel: threading.Event | None,
) -> RunOutcome:
    return start_run(
        ctx,
        RunKind.ROLLBACK,
        target,
        plan,
        workers=workers or default_deploy_workers(),
        options=options,
        change=change,
        on_event=on_event,
        cancel=cancel,
    )


def _planned_rollback(start: RunStart, plan: RollbackPlan) -> PlannedRun[Deployable]:
    going = plan.to_roll_back
    items = [
        records.NewItem(
            i.module_id,
            i.module,
            i.application,
            i.target_version,
            i.compilation_id,
            ItemStatus.PENDING if i.rolls_back else ItemStatus.SKIPPED,
            i.reason,
            i.detail,
        )
        for i in plan.items
    ]
    work_items = _work_items(start.session, going)
    staged = staged_releases(start.session, [item.module_id for item in going])

    def make_work(run: StartedRun, pool: WorkerPool, switch: bool) -> DeployWork:
        return DeployWork(
            run.artifacts,
            run.frontends,
            pool,
            run.disabled,
            keep=run.keep,
            switch=switch,
            blocked_by="consumer",
            also_keep=staged,
        )

    names = name_list([item.module for item in going]) or "nothing"
    return PlannedRun(items, work_items, make_work, "rollback", note=f": {names}")


def _work_items(session: Session, going: Sequence[RollbackItem]) -> list[WorkItem[Deployable]]:
    """The releases to make live again, with the dependency edges reversed: consumers go first."""
    keys = {item.module.casefold(): item.module for item in going}
    consumers: dict[str, list[str]] = {key: [] for key in keys}
    for item in going:
        for producer in item.depends:
            if producer.casefold() in consumers and producer.casefold() != item.module.casefold():
                consumers[producer.casefold()].append(item.module)
    work = []
    for item in going:
        assert item.compilation_id is not None and item.target_version is not None and item.target_platform
        manifest, sha, overrides = session.execute(
            select(ModuleVersionRow.manifest, CompilationRow.artifact_sha256, ModuleRow.config_overrides)
            .join(CompilationRow, CompilationRow.module_version_id == ModuleVersionRow.id)
            .join(ModuleRow, ModuleRow.id == ModuleVersionRow.module_id)
            .where(CompilationRow.id == item.compilation_id)
        ).one()
        config = effective_config(declared_defaults(manifest), dict(overrides or {}))
        release = ReleaseRequest(item.module, item.target_version, item.target_platform, str(sha), config)
        payload = Deployable(item.compilation_id, release)
        work.append(
            WorkItem(
                item.module_id,
                item.module,
                item.application,
                item.target_version,
                tuple(consumers[item.module.casefold()]),
                payload,
            )
        )
    return work
