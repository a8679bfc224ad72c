"""Read-only views of an environment, as plain frozen values for the CLI and the GUI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session, aliased

from app.engine.audit import AuditEntry as AuditEntry
from app.engine.audit import audit_entries as audit_entries
from app.engine.config import declared_defaults, effective_config
from app.engine.context import EnvironmentContext
from app.engine.control.gate import load_schedule
from app.engine.control.now import state_of
from app.engine.errors import BadInputError
from app.engine.frontend.registry import enabled, opened
from app.engine.identity import iso, utcnow
from app.engine.lookup import find_module, frontends_of_session
from app.engine.read.status import ActiveRun as ActiveRun
from app.engine.read.status import Status as Status
from app.engine.read.status import state_counts
from app.engine.runs import records
from app.engine.runs.options import PLAIN_RUN, RunOptions
from app.engine.runs.planner import DeployAllPlanner, DeployPlan
from app.engine.store.models import (
    CompilationRow,
    ModuleLockRow,
    ModuleRow,
    ModuleVersionRow,
    PlatformUpgradeRow,
    RunItemRow,
    RunRow,
)
from app.engine.vocabulary import FINISHED_ITEM_STATUSES, ItemStatus, ModuleState, RunKind, SkipReason

if TYPE_CHECKING:
    from app.engine.frontend.verify import Drift

# Module states, as the Modules pane and `modules` show them.
DEPLOYED = ModuleState.DEPLOYED
READY = ModuleState.READY
COMPILATION_FAILED = ModuleState.COMPILATION_FAILED
NOT_PREPARED = ModuleState.NOT_PREPARED


@dataclass(frozen=True)
class ModuleView:
    id: int
    name: str
    application: str
    description: str
    latest_version: int | None
    compile_status: str | None
    compile_reason: str | None
    deployed_version: int | None
    deployed_platform: str | None
    state: str
    locked_by_run: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "application": self.application,
            "latest_version": self.latest_version,
            "compile_status": self.compile_status,
            "compile_reason": self.compile_reason,
            "deployed_version": self.deployed_version,
            "deployed_platform": self.deployed_platform,
            "state": self.state,
            "locked_by_run": self.locked_by_run,
        }


@dataclass(frozen=True)
class RunSummary:
    id: int
    kind: str
    status: str
    platform_version: str
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    message: str | None
    options: RunOptions = PLAIN_RUN  # how the run was asked to go: rolling, soak, failure budget
    compile_failed: int = 0  # of its failed items, those that failed to compile (publish, upgrade)

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "platform_version": self.platform_version,
            "started_by": self.started_by,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "counts": self.counts,
            "message": self.message,
            "options": self.options.to_json(),
        }


@dataclass(frozen=True)
class RunItemView:
    module: str
    application: str
    version: int | None
    status: ItemStatus
    reason: str | None
    message: str | None
    started_at: datetime | None
    finished_at: datetime | None
    frontends: Mapping[str, str] | None = None  # front-end name -> what it holds after the run

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "application": self.application,
            "version": self.version,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "frontends": dict(self.frontends) if self.frontends is not None else None,
        }


@dataclass(frozen=True)
class RunDetail:
    summary: RunSummary
    items: tuple[RunItemView, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.summary.to_json(), "items": [item.to_json() for item in self.items]}


def status(ctx: EnvironmentContext) -> Status:
    with ctx.db.read() as session:
        env = records.environment(session)
        states = _state_counts(session, env.platform_version)
        upgrade = session.scalars(select(PlatformUpgradeRow).order_by(PlatformUpgradeRow.id.desc())).first()
        active = tuple(_active(session))
        frontends = tuple(frontends_of_session(session))
        return Status(
            name=env.name,
            platform_version=env.platform_version,
            frontends=frontends,
            upgrade_from=upgrade.from_version if upgrade else None,
            upgrade_to=upgrade.to_version if upgrade else None,
            total=sum(states.values()),
            ready=states[READY],
            compilation_failed=states[COMPILATION_FAILED],
            deployed=states[DEPLOYED],
            not_prepared=states[NOT_PREPARED],
            active_runs=active,
            database=ctx.db.describe(),
            staged=_staged_count(session, env.platform_version),
            change_control=state_of(load_schedule(session), env.approvals_required or 0, utcnow()),
        )


def _staged_count(session: Session, platform: str) -> int:
    """Modules not live in their current compilation whose release a stage run wrote."""
    current = aliased(CompilationRow)
    query = (
        select(func.count(func.distinct(ModuleRow.id)))
        .select_from(ModuleRow)
        .join(
            current,
            and_(
                current.module_version_id == ModuleRow.latest_version_id,
                current.platform_version == platform,
                current.succeeded.is_(True),
            ),
        )
        .join(
            RunItemRow,
            and_(
                RunItemRow.module_id == ModuleRow.id,
                RunItemRow.compilation_id == current.id,
                RunItemRow.status == ItemStatus.STAGED,
            ),
        )
        .join(RunRow, and_(RunRow.id == RunItemRow.run_id, RunRow.kind == RunKind.STAGE))
        .where(
            ModuleRow.deleted_at.is_(None),
            (ModuleRow.deployed_compilation_id.is_(None)) | (ModuleRow.deployed_compilation_id != current.id),
        )
    )
    return int(session.scalar(query) or 0)


def _state_counts(session: Session, platform: str) -> Counter[str]:
    """How many live modules are in each state, counted by the database (the same rules as
    ``_module_views``): status stays instant at 100,000 modules. Sums in one pass rather than a
    ``GROUP BY`` of the state, which makes SQLite sort 100,000 rows (a third slower)."""
    current = aliased(CompilationRow)
    failed = current.succeeded.is_(False)
    deployed = and_(current.succeeded.is_not(False), ModuleRow.deployed_compilation_id == current.id)
    query = (
        select(
            func.count(),
            func.count(current.id),
            func.sum(case((failed, 1), else_=0)),
            func.sum(case((deployed, 1), else_=0)),
        )
        .select_from(ModuleRow)
        .outerjoin(
            current,
            and_(current.module_version_id == ModuleRow.latest_version_id, current.platform_version == platform),
        )
        .where(ModuleRow.deleted_at.is_(None))
    )
    total, prepared, failures, live = session.execute(query).one()
    return state_counts(total, prepared, failures, live)


def _active(session: Session) -> list[ActiveRun]:
    result = []
    for run in records.active_runs(session):
        counts = dict(
            session.execute(
                select(RunItemRow.status, func.count()).where(RunItemRow.run_id == run.id).group_by(RunItemRow.status)
            ).all()
        )
        total = sum(counts.values())
        done = sum(n for s, n in counts.items() if s in FINISHED_ITEM_STATUSES)
        result.append(ActiveRun(run.id, run.kind, run.started_by, run.started_at, done, total))
    return result


def deploy_plan(ctx: EnvironmentContext) -> DeployPlan:
    """What Deploy All would do now (its dry run); changes nothing."""
    with ctx.db.read() as session:
        env = records.environment(session)
        with opened(enabled(frontends_of_session(session))) as targets:
            return DeployAllPlanner(session, env.platform_version, targets).plan()


def modules(ctx: EnvironmentContext) -> list[ModuleView]:
    with ctx.db.read() as session:
        env = records.environment(session)
        return _module_views(session, env.platform_version)


def _module_views(session: Session, platform: str) -> list[ModuleView]:
    """Every live module with its state, in one query."""
    current = aliased(CompilationRow)
    deployed = aliased(CompilationRow)
    deployed_version = aliased(ModuleVersionRow)
    query = (
        select(
            ModuleRow.id,
            ModuleRow.name,
            ModuleRow.application,
            ModuleRow.description,
            ModuleVersionRow.number,
            current.id,
            current.succeeded,
            current.reason,
            ModuleRow.deployed_compilation_id,
            deployed_version.number,
            deployed.platform_version,
            ModuleLockRow.run_id,
        )
        .outerjoin(ModuleVersionRow, ModuleVersionRow.id == ModuleRow.latest_version_id)
        .outerjoin(
            current,
            and_(current.module_version_id == ModuleVersionRow.id, current.platform_version == platform),
        )
        .outerjoin(deployed, deployed.id == ModuleRow.deployed_compilation_id)
        .outerjoin(deployed_version, deployed_version.id == deployed.module_version_id)
        .outerjoin(ModuleLockRow, ModuleLockRow.module_id == ModuleRow.id)
        .where(ModuleRow.deleted_at.is_(None))
        .order_by(ModuleRow.application, ModuleRow.name)
    )
    views = []
    for (
        module_id,
        name,
        application,
        description,
        latest,
        compilation_id,
        succeeded,
        reason,
        deployed_compilation_id,
        deployed_number,
        deployed_platform,
        locked_by,
    ) in session.execute(query):
        if compilation_id is None:
            state = NOT_PREPARED
        elif not succeeded:
            state = COMPILATION_FAILED
        elif deployed_compilation_id == compilation_id:
            state = DEPLOYED
        else:
            state = READY
        views.append(
            ModuleView(
                module_id,
                name,
                application,
                description or "",
                latest,
                None if compilation_id is None else ("succeeded" if succeeded else "failed"),
                reason,
                deployed_number,
                deployed_platform,
                state,
                locked_by,
            )
        )
    return views


def module_config(ctx: EnvironmentContext, name: str) -> dict[str, str]:
    """The configuration a module is deployed with: its defaults and the applied values."""
    with ctx.db.read() as session:
        module = find_module(session, name)
        version = session.get(ModuleVersionRow, module.latest_version_id)
        defaults = declared_defaults(version.manifest if version else None)
        return effective_config(defaults, dict(module.config_overrides or {}))


def run_summaries(
    ctx: EnvironmentContext, kinds: tuple[str, ...] | None = None, limit: int | None = None
) -> list[RunSummary]:
    with ctx.db.read() as session:
        query = select(RunRow).order_by(RunRow.id.desc())
        if kinds:
            query = query.where(RunRow.kind.in_(kinds))
        if limit:
            query = query.limit(limit)
        rows = session.scalars(query).all()
        counts: dict[int, dict[str, int]] = {row.id: {} for row in rows}
        compile_failed: dict[int, int] = {}
        if rows:
            for run_id, item_status, n in session.execute(
                select(RunItemRow.run_id, RunItemRow.status, func.count())
                .where(RunItemRow.run_id.in_(list(counts)))
                .group_by(RunItemRow.run_id, RunItemRow.status)
            ):
                counts[run_id][item_status] = n
            compile_failed = dict(
                session.execute(
                    select(RunItemRow.run_id, func.count())
                    .where(RunItemRow.run_id.in_(list(counts)), _failed_to_compile())
                    .group_by(RunItemRow.run_id)
                ).all()
            )
        return [_summary(row, counts[row.id], compile_failed.get(row.id, 0)) for row in rows]


def _failed_to_compile() -> ColumnElement[bool]:
    return and_(RunItemRow.status == ItemStatus.FAILED, RunItemRow.reason == SkipReason.COMPILATION_FAILED)


def _summary(row: RunRow, counts: Mapping[str, int], compile_failed: int = 0) -> RunSummary:
    full: dict[str, int] = {name: counts.get(name, 0) for name in records.COUNTED_ITEM_STATUSES}
    full.update(counts)
    return RunSummary(
        row.id,
        row.kind,
        row.status,
        row.platform_version,
        row.started_by,
        row.started_at,
        row.finished_at,
        full,
        row.message,
        RunOptions.from_json({"rolling": row.rolling, "soak": row.soak, "max_failures": row.max_failures}),
        compile_failed,
    )


def run_detail(ctx: EnvironmentContext, run_id: int) -> RunDetail:
    with ctx.db.read() as session:
        row = session.get(RunRow, run_id)
        if row is None:
            raise BadInputError(f"there is no run {run_id}")
        views = item_views(session, RunItemRow.run_id == run_id)
        failed = sum(1 for v in views if v.status == ItemStatus.FAILED and v.reason == SkipReason.COMPILATION_FAILED)
        return RunDetail(_summary(row, dict(Counter(v.status for v in views)), failed), views)


# The columns of a RunItemView, in its fields' order.
_ITEM_COLUMNS = (
    RunItemRow.module_name,
    RunItemRow.application,
    RunItemRow.version,
    RunItemRow.status,
    RunItemRow.reason,
    RunItemRow.message,
    RunItemRow.started_at,
    RunItemRow.finished_at,
    RunItemRow.frontends,
)


def item_views(session: Session, *conditions: ColumnElement[bool]) -> tuple[RunItemView, ...]:
    """Run items as views, in run order, read as plain columns: building 100,000 ORM objects
    first took most of the 12-15 s that the items of a 100,000-module Deploy All took to read."""
    rows = session.execute(select(*_ITEM_COLUMNS).where(*conditions).order_by(RunItemRow.position))
    return tuple(RunItemView(*row) for row in rows)


@dataclass(frozen=True)
class VerifyReport:
    checked: int
    drift: tuple[Drift, ...]
    disabled: tuple[str, ...] = ()  # front-ends not checked: taken out of every run

    def to_json(self) -> dict[str, Any]:
        from app.engine.frontend.verify import group_drift

        return {
            "checked": self.checked,
            "drift": [
                {"frontend": d.frontend, "module": d.module, "problem": d.problem, "cause": d.group} for d in self.drift
            ],
            "drift_groups": [
                {"frontend": g.frontend, "cause": g.cause, "count": len(g.modules), "modules": list(g.modules)}
                for g in group_drift(self.drift)
            ],
            "disabled": list(self.disabled),
        }


def verify(ctx: EnvironmentContext) -> VerifyReport:
    """Re-hash every live release on every front-end against what the database says is live."""
    # Here: the other views, status above all, start faster without the verification code.
    from app.engine.frontend.verify import Expected, verify_target

    with ctx.db.read() as session:
        frontends = frontends_of_session(session)
        live = session.execute(
            select(ModuleRow.name, ModuleRow.deployed_release, CompilationRow.artifact_sha256)
            .outerjoin(CompilationRow, CompilationRow.id == ModuleRow.deployed_compilation_id)
            .where(ModuleRow.deleted_at.is_(None))
            .order_by(ModuleRow.name)
        ).all()
    expected = [Expected(name, release, sha) for name, release, sha in live]
    drift: list[Drift] = []
    checking = enabled(frontends)
    with opened(checking) as targets:
        for target in targets:
            drift.extend(verify_target(target, expected))
    checked = sum(item.release_id is not None for item in expected) * len(checking)
    skipped = tuple(frontend.name for frontend in frontends if not frontend.enabled)
    return VerifyReport(checked, tuple(drift), skipped)


def repeated_failures(ctx: EnvironmentContext, run_id: int) -> tuple[str, ...]:
    """Modules that failed in Deploy All run ``run_id`` and in the Deploy All before it: what
    Deployment Details suggests publishing as a solution instead (rules.md#publish-solution)."""
    with ctx.db.read() as session:
        run = session.get(RunRow, run_id)
        if run is None or run.kind != RunKind.DEPLOY_ALL:
            return ()
        previous = session.scalar(
            select(func.max(RunRow.id)).where(RunRow.kind == RunKind.DEPLOY_ALL, RunRow.id < run_id)
        )
        if previous is None:
            return ()
        failed = [
            set(
                session.scalars(
                    select(RunItemRow.module_name).where(
                        RunItemRow.run_id == one, RunItemRow.status == ItemStatus.FAILED
                    )
                )
            )
            for one in (run_id, previous)
        ]
        return tuple(sorted(failed[0] & failed[1]))
