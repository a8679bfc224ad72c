"""The product's operations: init, publish, upgrade, deploy, apply configurations, delete, cancel.

Each operation checks and records what it needs in one writer transaction, then does the long
work through a ``RunExecutor``. Front-ends (CLI, GUI) call these and format the results.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine import deployer, runs, views, worker_processes
from app.engine.deployer import effective_config
from app.engine.audit import audit
from app.engine.bundle import Bundle, Manifest, load_bundle
from app.engine.catalog import DEFAULT_PLATFORM, compare_versions, load_catalog
from app.engine.compiler import PlatformSpec
from app.engine.context import EnvironmentContext, Location, open_context
from app.engine.errors import BadInputError, DeployCenterError, StateError
from app.engine.events import EventSink, ignore_events
from app.engine.frontends import frontends_of_session
from app.engine.identity import current_user, utcnow
from app.engine.planner import DeployAllPlanner, DeployPlan, gc_paused
from app.engine.runner import RunExecutor, WorkItem
from app.engine.store.models import (
    EnvironmentRow,
    FrontendRow,
    ModuleRow,
    ModuleVersionRow,
    PlatformUpgradeRow,
)
from app.engine.work import (
    CompileRequest,
    CompileWork,
    DeployRequest,
    DeployWork,
    ProducerBook,
    PublishRequest,
    PublishWork,
    known_compilations,
)
from app.engine.worker_processes import CompileBatches, PublishBatches, ReleaseBatches


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, for exit codes and summaries."""

    run_id: int
    kind: str
    status: str


def default_workers() -> int:
    """Modules compiled at once when the caller does not say: four per core, at most 16.

    Compiling is Python work and disk writes, one module at a time per worker; more modules
    than cores keep the cores busy, and modules waiting together share one disk flush
    (``durability``). Measured on 2 cores, 1,000 modules: 2 workers 6.4 s, 8 workers 3.4 s.
    """
    return min(16, 4 * max(1, os.cpu_count() or 1))


def default_deploy_workers() -> int:
    """Threads of a deploy run when the caller does not say: one per core and one more, at most 9.

    Deploy workers take batches that share their flushes (``runner.MAX_BATCH``), so few are
    needed: in big runs they only wait for the deploy processes, one per core; in a run without
    processes more threads only fight over the interpreter lock (2,000 modules on 2 cores: 1-2
    threads 2.8 s, 8 threads 4.1-4.6 s) and starve the window's thread of it.
    """
    return min(9, max(1, os.cpu_count() or 1) + 1)


# -- helpers -----------------------------------------------------------------------------------


def audit_failure(ctx: EnvironmentContext, operation: str, target: str, error: DeployCenterError) -> None:
    """Record a refused or failed operation; never hides the original error."""
    try:
        with ctx.db.write() as session:
            audit(session, operation, target, "refused" if error.exit_code == 3 else "failed", error.message)
    except DeployCenterError:
        pass


@contextmanager
def audited(ctx: EnvironmentContext, operation: str, target: str) -> Iterator[None]:
    """Record in the audit log an operation that is refused or fails, then let the error go on."""
    try:
        yield
    except DeployCenterError as error:
        audit_failure(ctx, operation, target, error)
        raise


def platform_spec(ctx: EnvironmentContext, version: str) -> PlatformSpec:
    entry = ctx.catalog.get(version)
    return PlatformSpec(entry.version, entry.capabilities)


def find_module(session: Session, name: str) -> ModuleRow:
    module = session.scalars(
        select(ModuleRow).where(ModuleRow.name_key == name.casefold(), ModuleRow.deleted_at.is_(None))
    ).first()
    if module is None:
        raise BadInputError(f"unknown module '{name}'")
    return module


def begin_operation(session: Session) -> EnvironmentRow:
    """Serialize against other writers and settle runs whose owner died first."""
    env = runs.serialize_writers(session)
    runs.recover_stale_runs(session)
    return env


def _execute(
    ctx: EnvironmentContext,
    run_id: int,
    kind: str,
    items: Sequence[WorkItem],
    work: DeployWork | CompileWork | PublishWork,
    workers: int,
    on_event: EventSink,
    cancel: threading.Event | None,
) -> RunOutcome:
    executor = RunExecutor(
        ctx.db, run_id, items, work, workers=workers, on_event=on_event, cancel=cancel or threading.Event()
    )
    status = executor.execute()
    with ctx.db.write() as session:
        audit(session, kind, f"run {run_id}", status)
    return RunOutcome(run_id, kind, status)


def name_list(names: Sequence[str], shown: int = 5) -> str:
    """Names for a one-line message: the first few and how many more."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


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
    """Create the environment in ``location``; with ``demo`` also publish the sample modules."""
    version = load_catalog().get(platform or DEFAULT_PLATFORM).version
    paths = [Path(p).expanduser().absolute() for p in frontends] or [
        location.data_dir / "frontends" / "default"
    ]
    if len({str(p) for p in paths}) != len(paths):
        raise BadInputError("the same front-end folder is given twice")
    for path in paths:
        if path.exists() and not path.is_dir():
            raise BadInputError(f"front-end {path} is a file, not a folder")
    ctx = open_context(location, create=True)
    try:
        with ctx.db.write() as session:
            if session.scalars(select(EnvironmentRow)).first() is not None:
                raise StateError(f"an environment already exists in {ctx.db.describe()}")
            env_name = name or ("Demo" if demo else location.data_dir.name or "Environment")
            session.add(
                EnvironmentRow(
                    id=1, name=env_name, platform_version=version, created_at=utcnow(), created_by=current_user()
                )
            )
            for index, path in enumerate(paths):
                path.mkdir(parents=True, exist_ok=True)
                label = path.name if path.name not in {"", "."} else f"frontend{index + 1}"
                session.add(FrontendRow(name=_unique_label(label, index, paths), path=str(path)))
            audit(session, "init", env_name, "done", f"platform {version}, {len(paths)} front-end(s)")
        if demo:
            from app.paths import resource

            demo_dir = resource("demo")
            bundles = sorted(p for p in demo_dir.iterdir() if (p / "module.toml").is_file())
            publish(ctx, bundles, on_event=on_event)
    except BaseException:
        ctx.close()
        raise
    return ctx


def _unique_label(label: str, index: int, paths: Sequence[Path]) -> str:
    names = [p.name for p in paths]
    return label if names.count(label) == 1 else f"{label}-{index + 1}"


# -- publish -----------------------------------------------------------------------------------


def publish(
    ctx: EnvironmentContext,
    bundle_paths: Iterable[Path],
    *,
    workers: int | None = None,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """A new version of each bundle's module, compiled for the current platform and deployed."""
    # Each bundle's files are dropped once its source zip is built: workers read the stored zip
    # back one module at a time, so a publish of thousands does not hold them all in memory.
    loaded = [_manifest_and_source(load_bundle(Path(p))) for p in bundle_paths]
    if not loaded:
        raise BadInputError("publish needs at least one bundle")
    manifests = [manifest for manifest, _zip in loaded]
    seen: set[str] = set()
    for manifest in manifests:
        key = manifest.name.casefold()
        if key in seen:
            raise BadInputError(f"module {manifest.name} is given twice")
        seen.add(key)
    sources = ctx.artifacts.put_many([source for _manifest, source in loaded])
    del loaded
    names = name_list([manifest.name for manifest in manifests])
    with audited(ctx, "publish", names), ctx.db.write() as session:
        env = begin_operation(session)
        from app.engine.dependencies import refuse_cycles
        refuse_cycles(session, manifests)
        runs.refuse_if_exclusive_active(session, "publish")
        new_items, work_items = _record_versions(session, manifests, sources)
        run = runs.create_run(session, "publish", env.platform_version, new_items, workers or default_workers())
        producers = ProducerBook(known_compilations(session, env.platform_version))
        frontends = frontends_of_session(session)
        platform = env.platform_version
        audit(session, "publish", names, "started", f"run {run.id}")
        run_id = run.id
    spec = platform_spec(ctx, platform)
    paths = [fe.path for fe in frontends]
    batches = PublishBatches(ctx.artifacts, paths, spec, worker_processes.process_count(len(work_items)))
    try:
        work = PublishWork(frontends, spec, producers, batches)
        return _execute(ctx, run_id, "publish", work_items, work, workers or default_workers(), on_event, cancel)
    finally:
        batches.close()


def _manifest_and_source(bundle: Bundle) -> tuple[Manifest, bytes]:
    return bundle.manifest, bundle.source_zip_bytes()


def _record_versions(
    session: Session, manifests: Sequence[Manifest], sources: Sequence[str]
) -> tuple[list[runs.NewItem], list[WorkItem]]:
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
    runs.refuse_if_locked(session, [m.id for m in existing.values()], "publish")
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
        for module, manifest, source in zip(modules, manifests, sources)
    ]
    session.add_all(versions)
    session.flush()
    new_items: list[runs.NewItem] = []
    work_items: list[WorkItem] = []
    for module, manifest, version in zip(modules, manifests, versions):
        module.latest_version_id = version.id
        new_items.append(runs.NewItem(module.id, module.name, module.application, version.number, None))
        work_items.append(
            WorkItem(
                module.id,
                module.name,
                module.application,
                version.number,
                manifest.depends,
                PublishRequest(version.id, version.source_sha256, dict(module.config_overrides or {})),
            )
        )
    return new_items, work_items


# -- upgrade -----------------------------------------------------------------------------------


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
    with audited(ctx, "upgrade", to_version), ctx.db.write() as session:
        env = begin_operation(session)
        current = env.platform_version
        if compare_versions(target, current) < 0:
            raise BadInputError(f"cannot downgrade from {current} to {target}")
        runs.refuse_if_exclusive_active(session, "upgrade")
        items, work_items = _modules_to_prepare(session, target)
        run = runs.create_run(session, "upgrade", target, items, workers or default_workers())
        if target != current:
            session.add(
                PlatformUpgradeRow(
                    from_version=current, to_version=target, started_by=current_user(), started_at=utcnow(),
                    run_id=run.id,
                )
            )
            env.platform_version = target
        producers = ProducerBook(known_compilations(session, target))
        audit(session, "upgrade", f"{current} -> {target}", "started", f"run {run.id}, {len(items)} module(s)")
        run_id = run.id
    spec = platform_spec(ctx, target)
    batches = CompileBatches(ctx.artifacts, spec, worker_processes.process_count(len(work_items)))
    try:
        work = CompileWork(spec, producers, batches)
        return _execute(ctx, run_id, "upgrade", work_items, work, workers or default_workers(), on_event, cancel)
    finally:
        batches.close()


def _modules_to_prepare(session: Session, platform: str) -> tuple[list[runs.NewItem], list[WorkItem]]:
    prepared = {
        name.casefold() for name, ok in known_compilations(session, platform).items() if ok
    }
    rows = session.execute(
        select(ModuleRow.id, ModuleRow.name, ModuleRow.application, ModuleVersionRow)
        .join(ModuleVersionRow, ModuleVersionRow.id == ModuleRow.latest_version_id)
        .where(ModuleRow.deleted_at.is_(None))
        .order_by(ModuleRow.application, ModuleRow.name)
    ).all()
    items: list[runs.NewItem] = []
    work_items: list[WorkItem] = []
    for module_id, name, application, version in rows:
        if name.casefold() in prepared:
            continue
        items.append(runs.NewItem(module_id, name, application, version.number, None))
        depends = tuple(version.depends.split(",")) if version.depends else ()
        work_items.append(
            WorkItem(module_id, name, application, version.number, depends, CompileRequest(version.id, version.source_sha256))
        )
    return items, work_items


# -- deploy ------------------------------------------------------------------------------------


def plan_deploy_all(ctx: EnvironmentContext) -> DeployPlan:
    """What Deploy All would do now; changes nothing (the dry run, ``views.deploy_plan``)."""
    return views.deploy_plan(ctx)


def deploy_all(
    ctx: EnvironmentContext,
    *,
    workers: int | None = None,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Deploy every prepared module that is not live yet (rules 1, 2 and 6)."""
    return _deploy(ctx, "deploy-all", None, workers, on_event, cancel)


def resolve_modules(ctx: EnvironmentContext, names: Sequence[str] = (), application: str | None = None) -> list[int]:
    """Module ids for names or an application; unknown ones are bad input."""
    with ctx.db.read() as session:
        if application is not None:
            ids = list(
                session.scalars(
                    select(ModuleRow.id).where(
                        func.lower(ModuleRow.application) == application.casefold(), ModuleRow.deleted_at.is_(None)
                    )
                )
            )
            if not ids:
                raise BadInputError(f"unknown application '{application}'")
            return ids
        if not names:
            raise BadInputError("name at least one module, or an application with --app")
        return [find_module(session, name).id for name in names]


def deploy_modules(
    ctx: EnvironmentContext,
    module_ids: Sequence[int],
    *,
    workers: int | None = None,
    on_event: EventSink = ignore_events,
    cancel: threading.Event | None = None,
) -> RunOutcome:
    """Deploy chosen modules (one at a time, or an application) by the same rules as Deploy All."""
    return _deploy(ctx, "deploy", list(module_ids), workers, on_event, cancel)


def _deploy(
    ctx: EnvironmentContext,
    kind: str,
    module_ids: list[int] | None,
    workers: int | None,
    on_event: EventSink,
    cancel: threading.Event | None,
) -> RunOutcome:
    count = workers or default_deploy_workers()
    target = "all modules" if module_ids is None else f"{len(module_ids)} module(s)"
    # Setting up a big run makes tens of thousands of short-lived acyclic objects; the cycle
    # collector would rescan them all several times, holding the GIL the window needs.
    with audited(ctx, kind, target), gc_paused(), ctx.db.write() as session:
        env = begin_operation(session)
        runs.refuse_if_exclusive_active(session, kind)
        frontends = frontends_of_session(session)
        plan = DeployAllPlanner(session, env.platform_version, [fe.path for fe in frontends]).plan(module_ids)
        runs.refuse_if_locked(session, [item.module_id for item in plan.to_deploy], "deploy")
        items = [
            runs.NewItem(
                i.module_id, i.module, i.application, i.version, i.compilation_id,
                "pending" if i.deploys else "skipped", i.reason, i.detail,
            )
            for i in plan.items
        ]
        run = runs.create_run(session, kind, env.platform_version, items, count)
        work_items = _deploy_work_items(session, plan)
        audit(session, kind, target, "started", f"run {run.id}")
        run_id = run.id
    paths = [fe.path for fe in frontends]
    batches = ReleaseBatches(ctx.artifacts, paths, worker_processes.process_count(len(work_items)))
    try:
        return _execute(ctx, run_id, kind, work_items, DeployWork(frontends, batches), count, on_event, cancel)
    finally:
        batches.close()


def _deploy_work_items(session: Session, plan: DeployPlan) -> list[WorkItem]:
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
            defaults = dict(manifest.get("config") or {})
            configs[module_id] = (defaults, dict(overrides or {}))
    work = []
    for item in deploying:
        assert item.compilation_id is not None and item.artifact_sha256 is not None
        defaults, overrides = configs[item.module_id]
        request = DeployRequest(
            item.compilation_id, item.artifact_sha256, plan.platform_version, effective_config(defaults, overrides)
        )
        work.append(WorkItem(item.module_id, item.module, item.application, item.version, item.depends, request))
    return work


# -- module operations ----------------------------------------------------------------------


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise BadInputError(f"expected KEY=VALUE, got '{pair}'")
        values[key.strip()] = value
    if not values:
        raise BadInputError("give at least one KEY=VALUE")
    return values


def apply_config(ctx: EnvironmentContext, name: str, values: dict[str, str]) -> dict[str, str]:
    """Change configuration values and write them to every front-end where the module is live."""
    with audited(ctx, "apply-config", name), ctx.db.write() as session:
        begin_operation(session)
        module = find_module(session, name)
        runs.refuse_if_locked(session, [module.id], "Apply configurations")
        version = session.get(ModuleVersionRow, module.latest_version_id)
        defaults = dict((version.manifest.get("config") if version else None) or {})
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
        deployer.apply_config([fe.path for fe in frontends_of_session(session)], module.name, config)
        audit(session, "apply-config", module.name, "done", ", ".join(sorted(values)))
        return config


def delete_module(ctx: EnvironmentContext, name: str) -> str:
    """Remove a module from the environment and the front-ends; its history stays."""
    with audited(ctx, "delete", name), ctx.db.write() as session:
        begin_operation(session)
        module = find_module(session, name)
        runs.refuse_if_locked(session, [module.id], "Delete")
        deployer.remove_module([fe.path for fe in frontends_of_session(session)], module.name)
        module.deleted_at = utcnow()
        module.deployed_compilation_id = None
        module.deployed_release = None
        audit(session, "delete", module.name, "done")
        return module.name


def cancel_run(ctx: EnvironmentContext, run_id: int | None = None) -> runs.RunRef:
    with ctx.db.write() as session:
        begin_operation(session)
        run = runs.request_cancel(session, run_id)
        audit(session, "cancel", f"run {run.id}", "requested")
        return runs.RunRef.of(run)
