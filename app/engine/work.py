"""What each kind of run does per module: compile (upgrade), compile and deploy (publish), deploy."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine import deployer
from app.engine.artifacts import ArtifactStore
from app.engine.bundle import Bundle, Manifest, bundle_from_source_zip
from app.engine.compiler import CompileOutcome, PlatformSpec, compile_bundle
from app.engine.identity import utcnow
from app.engine.runner import WorkItem, WorkOutcome
from app.engine.store.models import CompilationRow, DeploymentRow, FrontendRow, ModuleRow


# The item status of a successful preparation in an upgrade run.
PREPARED = "prepared"


@dataclass(frozen=True)
class Frontend:
    id: int
    name: str
    path: Path


def frontends_of_session(session: Session) -> list[Frontend]:
    rows = session.scalars(select(FrontendRow).order_by(FrontendRow.id))
    return [Frontend(row.id, row.name, Path(row.path)) for row in rows]


def effective_config(defaults: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The module's defaults, with the applied values for keys the module still declares."""
    config = dict(defaults)
    config.update({key: value for key, value in overrides.items() if key in defaults})
    return config


# -- deploy ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployRequest:
    compilation_id: int
    artifact_sha256: str
    platform: str
    config: Mapping[str, str]


@dataclass(frozen=True)
class Deployed:
    compilation_id: int
    release_id: str


class DeployWork:
    """Make a compilation live on every front-end (all of them or none)."""

    blocks_consumers = True

    def __init__(self, artifacts: ArtifactStore, frontends: Sequence[Frontend]) -> None:
        self._artifacts = artifacts
        self._frontends = tuple(frontends)

    def perform(self, item: WorkItem) -> WorkOutcome:
        request: DeployRequest = item.payload
        assert item.version is not None
        release = deploy_compilation(self._artifacts, self._frontends, item.module, item.version, request)
        where = "front-end" if len(self._frontends) == 1 else "front-ends"
        return WorkOutcome(
            "deployed",
            None,
            f"release {release} live on {len(self._frontends)} {where}",
            Deployed(request.compilation_id, release),
        )

    def note_done(self, item: WorkItem, outcome: WorkOutcome) -> None:
        pass

    def record(self, session: Session, run_id: int, item: WorkItem, outcome: WorkOutcome) -> None:
        record_deployment(session, self._frontends, item.module_id, outcome.result, run_id)


def deploy_compilation(
    artifacts: ArtifactStore,
    frontends: Sequence[Frontend],
    module: str,
    version: int,
    request: DeployRequest,
) -> str:
    artifact = artifacts.read(request.artifact_sha256)
    release_request = deployer.ReleaseRequest(
        module=module,
        version=version,
        platform=request.platform,
        artifact_sha256=request.artifact_sha256,
        config=dict(request.config),
    )
    return deployer.deploy_release([fe.path for fe in frontends], release_request, artifact)


def record_deployment(
    session: Session, frontends: Sequence[Frontend], module_id: int, deployed: Deployed, run_id: int | None
) -> None:
    now = utcnow()
    module = session.get(ModuleRow, module_id)
    assert module is not None
    module.deployed_compilation_id = deployed.compilation_id
    module.deployed_release = deployed.release_id
    module.deployed_at = now
    session.add_all(
        DeploymentRow(
            module_id=module_id,
            frontend_id=fe.id,
            compilation_id=deployed.compilation_id,
            release_id=deployed.release_id,
            run_id=run_id,
            deployed_at=now,
        )
        for fe in frontends
    )


# -- compile -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompileRequest:
    version_id: int
    source_sha256: str


@dataclass(frozen=True)
class Compiled:
    version_id: int
    outcome: CompileOutcome


class ProducerBook:
    """Whether each module name compiled for the platform: from the database, then this run."""

    def __init__(self, known: Mapping[str, bool]) -> None:
        self._status = {name.casefold(): ok for name, ok in known.items()}
        self._lock = threading.Lock()

    def producers_of(self, manifest: Manifest) -> dict[str, bool | None]:
        with self._lock:
            return {name: self._status.get(name.casefold()) for name in manifest.depends}

    def note(self, name: str, succeeded: bool) -> None:
        with self._lock:
            self._status[name.casefold()] = succeeded


def known_compilations(session: Session, platform: str) -> dict[str, bool]:
    """Every live module's latest-version compilation state for ``platform`` (False if none)."""
    rows = session.execute(
        select(ModuleRow.name, CompilationRow.succeeded)
        .outerjoin(
            CompilationRow,
            (CompilationRow.module_version_id == ModuleRow.latest_version_id)
            & (CompilationRow.platform_version == platform),
        )
        .where(ModuleRow.deleted_at.is_(None))
    )
    return {name: bool(ok) for name, ok in rows}


class CompileWork:
    """Prepare modules for a platform version (an upgrade), producers first."""

    blocks_consumers = False

    def __init__(self, artifacts: ArtifactStore, platform: PlatformSpec, producers: ProducerBook) -> None:
        self._artifacts = artifacts
        self._platform = platform
        self._producers = producers

    def compile(self, item: WorkItem) -> tuple[Bundle, CompileOutcome]:
        request: CompileRequest = item.payload
        bundle = bundle_from_source_zip(self._artifacts.read(request.source_sha256))
        producers = self._producers.producers_of(bundle.manifest)
        return bundle, compile_bundle(bundle, self._platform, producers, self._artifacts)

    def perform(self, item: WorkItem) -> WorkOutcome:
        request: CompileRequest = item.payload
        _bundle, outcome = self.compile(item)
        compiled = Compiled(request.version_id, outcome)
        if outcome.succeeded:
            return WorkOutcome(PREPARED, None, f"prepared for {self._platform.version}", compiled)
        return WorkOutcome("failed", "compilation-failed", outcome.reason, compiled)

    def note_done(self, item: WorkItem, outcome: WorkOutcome) -> None:
        self._producers.note(item.module, outcome.status == PREPARED)

    def record(self, session: Session, run_id: int, item: WorkItem, outcome: WorkOutcome) -> None:
        record_compilation(session, outcome.result, self._platform.version)


def record_compilation(session: Session, compiled: Compiled, platform: str) -> CompilationRow:
    """Insert, or replace a failed earlier attempt of, this version's compilation for ``platform``."""
    row = session.scalars(
        select(CompilationRow).where(
            CompilationRow.module_version_id == compiled.version_id,
            CompilationRow.platform_version == platform,
        )
    ).first()
    if row is None:
        row = CompilationRow(module_version_id=compiled.version_id, platform_version=platform)
        session.add(row)
    outcome = compiled.outcome
    row.succeeded = outcome.succeeded
    row.reason = outcome.reason
    row.artifact_sha256 = outcome.artifact_sha256
    row.artifact_size = outcome.artifact_size
    row.compiled_at = utcnow()
    session.flush()
    return row


# -- publish -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishRequest:
    version_id: int
    source_sha256: str
    config_overrides: Mapping[str, str]


@dataclass(frozen=True)
class Published:
    compiled: Compiled
    deployed: Deployed | None


class PublishWork:
    """Compile a new version for the current platform and, when it compiles, deploy it.

    A failed compilation is kept and the module's previous release stays live.
    """

    blocks_consumers = False

    def __init__(
        self,
        artifacts: ArtifactStore,
        frontends: Sequence[Frontend],
        platform: PlatformSpec,
        producers: ProducerBook,
    ) -> None:
        self._artifacts = artifacts
        self._frontends = tuple(frontends)
        self._platform = platform
        self._producers = producers
        self._compiler = CompileWork(artifacts, platform, producers)

    def perform(self, item: WorkItem) -> WorkOutcome:
        request: PublishRequest = item.payload
        compile_item = WorkItem(
            item.module_id, item.module, item.application, item.version, item.depends,
            CompileRequest(request.version_id, request.source_sha256),
        )
        bundle, outcome = self._compiler.compile(compile_item)
        compiled = Compiled(request.version_id, outcome)
        if not outcome.succeeded:
            return WorkOutcome("failed", "compilation-failed", outcome.reason, Published(compiled, None))
        assert outcome.artifact_sha256 is not None and item.version is not None
        # The compilation id is known only once recorded; 0 is replaced in record().
        deploy = DeployRequest(
            0,
            outcome.artifact_sha256,
            self._platform.version,
            effective_config(bundle.manifest.config, request.config_overrides),
        )
        try:
            release = deploy_compilation(self._artifacts, self._frontends, item.module, item.version, deploy)
        except Exception as exc:
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            return WorkOutcome("failed", message, message, Published(compiled, None))
        return WorkOutcome(
            "deployed",
            None,
            f"version {item.version} compiled and release {release} is live",
            Published(compiled, Deployed(0, release)),
        )

    def note_done(self, item: WorkItem, outcome: WorkOutcome) -> None:
        published: Published | None = outcome.result
        ok = published is not None and published.compiled.outcome.succeeded
        self._producers.note(item.module, ok)

    def record(self, session: Session, run_id: int, item: WorkItem, outcome: WorkOutcome) -> None:
        published: Published = outcome.result
        row = record_compilation(session, published.compiled, self._platform.version)
        if published.deployed is not None:
            deployed = Deployed(row.id, published.deployed.release_id)
            record_deployment(session, self._frontends, item.module_id, deployed, run_id)
