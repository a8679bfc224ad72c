"""The operations a user can ask for, for the command line and the window to call.

Runs are run kinds (``app.engine.kinds``: publish, upgrade, deploy); the rest is here: creating an
environment, changing a module's configuration, deleting a module and asking a run to stop. Each
checks and records what it needs in one writer transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.audit import audit, audited
from app.engine.catalog import DEFAULT_PLATFORM, load_catalog
from app.engine.config import config_bytes, declared_defaults, effective_config
from app.engine.context import EnvironmentContext, Location, open_context
from app.engine.control.gate import load_schedule, refuse_outside_window
from app.engine.errors import BadInputError, StateError
from app.engine.events import EventSink, ignore_events
from app.engine.farm_admin import TargetSpec, reachable_now
from app.engine.frontend import farm
from app.engine.frontend.kinds import FrontendKind
from app.engine.frontend.layout import OWNER_FILE
from app.engine.frontend.ownership import Owner, claim, refuse_foreign
from app.engine.frontend.registry import enabled, opened
from app.engine.identity import current_user, utcnow
from app.engine.kinds.base import RunOutcome, default_deploy_workers, default_workers
from app.engine.kinds.deploy import deploy_all, deploy_modules
from app.engine.kinds.prune import PrunedRelease, PruneReport, prune
from app.engine.kinds.publish import publish
from app.engine.kinds.publish_solution import publish_solution
from app.engine.kinds.recovery import begin_operation
from app.engine.kinds.rollback import (
    RollbackItem,
    RollbackPlan,
    plan_module_rollback,
    plan_run_rollback,
    rollback_modules,
    rollback_run,
)
from app.engine.kinds.stage import stage_all
from app.engine.kinds.upgrade import upgrade
from app.engine.lookup import find_module, frontends_of_session, owner, resolve_modules
from app.engine.read import views
from app.engine.runs import records
from app.engine.runs.planner import DeployPlan
from app.engine.store.models import EnvironmentRow, FrontendRow, ModuleVersionRow

__all__ = [
    "PruneReport",
    "PrunedRelease",
    "RollbackItem",
    "RollbackPlan",
    "RunOutcome",
    "apply_config",
    "cancel_run",
    "default_deploy_workers",
    "default_workers",
    "delete_module",
    "deploy_all",
    "deploy_modules",
    "init_environment",
    "parse_assignments",
    "plan_deploy_all",
    "plan_rollback",
    "platform_version",
    "prune",
    "publish",
    "publish_solution",
    "resolve_modules",
    "rollback_modules",
    "rollback_run",
    "stage_all",
    "upgrade",
]


def platform_version(ctx: EnvironmentContext) -> str:
    """The environment's current platform version (``upgrade --current`` prepares it again)."""
    with ctx.db.read() as session:
        return records.environment(session).platform_version


def plan_deploy_all(ctx: EnvironmentContext) -> DeployPlan:
    """What Deploy All would do now; changes nothing (the dry run, ``views.deploy_plan``)."""
    return views.deploy_plan(ctx)


def plan_rollback(ctx: EnvironmentContext, run_id: int | None = None, module_ids: Sequence[int] = ()) -> RollbackPlan:
    """What a rollback of run ``run_id`` (or else of ``module_ids``) would switch back, and to which
    release; changes nothing (for a confirmation). Bad input as the rollback itself would refuse."""
    with ctx.db.read() as session:
        if run_id is not None:
            return plan_run_rollback(session, run_id)
        return plan_module_rollback(session, list(module_ids))


# -- init --------------------------------------------------------------------------------------


def init_environment(
    location: Location,
    *,
    name: str | None = None,
    platform: str | None = None,
    frontends: Sequence[str] = (),
    demo: bool = False,
    on_event: EventSink = ignore_events,
) -> EnvironmentContext:
    """Create the environment in ``location``; with ``demo`` also publish the sample modules.

    Each front-end TARGET is a folder or an ``ssh://`` target; every one is checked (a remote one
    reached, its host key known) before anything is created.
    """
    version = load_catalog().get(platform or DEFAULT_PLATFORM).version
    targets = [TargetSpec.parse(text) for text in frontends] or [
        TargetSpec(FrontendKind.LOCAL, str(location.data_dir / "frontends" / "default"))
    ]
    labels = _labels(targets)
    wanted = [target.frontend(label) for target, label in zip(targets, labels, strict=True)]
    if len({frontend.key for frontend in wanted}) != len(wanted):
        raise BadInputError("the same front-end is given twice")
    for frontend in wanted:
        frontend.kind.driver.check(frontend.location)
    with opened([frontend for frontend in wanted if frontend.kind.driver.remote]) as remote:
        for target in remote:
            reachable_now(target)
    ctx = open_context(location, create=True)
    try:
        with ctx.db.write() as session:
            if session.scalars(select(EnvironmentRow)).first() is not None:
                raise StateError(f"an environment already exists in {ctx.db.describe()}")
            with opened(wanted) as stamped:  # a new environment owns nothing yet: any stamp is another's
                refuse_foreign(stamped, None, f"Choose another folder, or delete its {OWNER_FILE} if that one is gone")
            env_name = name or ("Demo" if demo else location.data_dir.name or "Environment")
            uid = str(uuid.uuid4())
            session.add(
                EnvironmentRow(
                    id=1,
                    name=env_name,
                    platform_version=version,
                    created_at=utcnow(),
                    created_by=current_user(),
                    uid=uid,
                )
            )
            for frontend in wanted:
                frontend.kind.driver.prepare(frontend.location)
            with opened(wanted) as stamped:
                claim(stamped, Owner(uid, env_name, ctx.db.file_or_url()))
            for frontend in wanted:
                session.add(
                    FrontendRow(name=frontend.name, location=frontend.location, kind=frontend.kind, enabled=True)
                )
            audit(session, "init", env_name, "done", f"platform {version}, {len(wanted)} front-end(s)")
        if demo:
            from app.paths import resource

            demo_dir = resource("demo")
            bundles = sorted(p for p in demo_dir.iterdir() if (p / "module.toml").is_file())
            publish(ctx, bundles, on_event=on_event)
    except BaseException:
        ctx.close()
        raise
    return ctx


def _labels(targets: Sequence[TargetSpec]) -> list[str]:
    """A name per front-end: its folder's name, or its host for a remote one; numbered when repeated."""
    labels = []
    for index, target in enumerate(targets):
        label = target.kind.driver.label(target.location)
        labels.append(label if label not in {"", "."} else f"frontend{index + 1}")
    return [label if labels.count(label) == 1 else f"{label}-{index + 1}" for index, label in enumerate(labels)]


# -- module operations ----------------------------------------------------------------------


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """KEY=VALUE arguments; a refusal never shows a value, which may be secret."""
    values: dict[str, str] = {}
    for position, pair in enumerate(pairs, start=1):
        key, sep, value = pair.partition("=")
        if not sep:
            raise BadInputError(f"expected KEY=VALUE, got '{pair}'")  # no '=': nothing is a value
        if not key.strip():
            raise BadInputError(f"expected KEY=VALUE, but assignment {position} has nothing before its '='")
        values[key.strip()] = value
    if not values:
        raise BadInputError("give at least one KEY=VALUE")
    return values


def apply_config(
    ctx: EnvironmentContext, name: str, values: dict[str, str], *, override_reason: str | None = None
) -> dict[str, str]:
    """Change configuration values and write them to every front-end where the module is live.

    It changes what the front-ends run, so windows and freezes apply (``override_reason``: started
    outside a window on purpose, audited).
    """
    with audited(ctx, "apply-config", name), ctx.db.write() as session:
        env = begin_operation(session)
        refuse_outside_window(session, "Apply configurations", override_reason)
        module = find_module(session, name)
        records.refuse_if_locked(session, [module.id], "Apply configurations")
        version = session.get(ModuleVersionRow, module.latest_version_id)
        defaults = declared_defaults(version.manifest if version else None)
        unknown = sorted(set(values) - set(defaults))
        if unknown:
            known = ", ".join(sorted(defaults)) or "none"
            raise BadInputError(
                f"module {module.name} has no configuration key {', '.join(unknown)} (its keys: {known})"
            )
        overrides = dict(module.config_overrides or {})
        overrides.update(values)
        module.config_overrides = overrides
        config = effective_config(defaults, overrides)
        # Written while holding the writer lock, so no run can start on this module meanwhile.
        with opened(enabled(frontends_of_session(session))) as targets:
            claim(targets, owner(ctx, env))
            farm.apply_config(targets, module.name, config_bytes(config))
        audit(session, "apply-config", module.name, "done", ", ".join(sorted(values)))
        _audit_override(session, "apply-config", module.name, override_reason)
        return config


def delete_module(ctx: EnvironmentContext, name: str, *, override_reason: str | None = None) -> str:
    """Remove a module from the environment and the front-ends; its history stays. Windows and
    freezes apply, as to apply-config."""
    with audited(ctx, "delete", name), ctx.db.write() as session:
        env = begin_operation(session)
        refuse_outside_window(session, "Delete", override_reason)
        module = find_module(session, name)
        records.refuse_if_locked(session, [module.id], "Delete")
        with opened(enabled(frontends_of_session(session))) as targets:
            claim(targets, owner(ctx, env))
            farm.remove_module(targets, module.name)
        module.deleted_at = utcnow()
        module.deployed_compilation_id = None
        module.deployed_release = None
        audit(session, "delete", module.name, "done")
        _audit_override(session, "delete", module.name, override_reason)
        return module.name


def _audit_override(session: Session, operation: str, target: str, reason: str | None) -> None:
    """An operation started outside every change window on purpose keeps its reason in the audit."""
    if reason is not None and not load_schedule(session).in_window(utcnow()):
        audit(session, "override-window", target, "done", f"{operation}: {reason}")


def cancel_run(ctx: EnvironmentContext, run_id: int | None = None) -> records.RunRef:
    with ctx.db.write() as session:
        begin_operation(session)
        run = records.request_cancel(session, run_id)
        audit(session, "cancel", f"run {run.id}", "requested")
        return records.RunRef.of(run)
