"""What each kind of run does per module: compile (upgrade), compile and deploy (publish), deploy."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.engine import deployer
from app.engine.compiler import CompileOutcome, PlatformSpec
from app.engine.frontends import Frontend
from app.engine.identity import utcnow
from app.engine.runner import WorkItem, WorkOutcome
from app.engine.store.models import CompilationRow, DeploymentRow, ModuleRow
from app.engine.worker_processes import CompileBatches, CompileJob, PublishBatches, PublishJob, ReleaseBatches


# The item status of a successful preparation in an upgrade run.
PREPARED = "prepared"


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
    """Make a compilation live on every front-end (all of them or none).

    ``batches`` does the file work: in worker processes for big runs, else in the calling thread.
    """

    blocks_consumers = True

    def __init__(self, frontends: Sequence[Frontend], batches: ReleaseBatches) -> None:
        self._frontends = tuple(frontends)
        self._batches = batches

    def perform_batch(self, items: Sequence[WorkItem]) -> list[WorkOutcome | Exception]:
        """Write every item's release, then make them all live together: three shared disk flushes.

        The switches' flush is shared by the whole batch of records: record() flushes first.
        """
        results = self._batches.deploy([self._release_request(item) for item in items])
        return [
            result if isinstance(result, Exception) else self._deployed(item, result)
            for item, result in zip(items, results, strict=True)
        ]

    @staticmethod
    def _release_request(item: WorkItem) -> deployer.ReleaseRequest:
        request: DeployRequest = item.payload
        assert item.version is not None
        return deployer.ReleaseRequest(
            item.module, item.version, request.platform, request.artifact_sha256, dict(request.config)
        )

    def _deployed(self, item: WorkItem, release: str) -> WorkOutcome:
        request: DeployRequest = item.payload
        where = "front-end" if len(self._frontends) == 1 else "front-ends"
        return WorkOutcome(
            "deployed",
            None,
            f"release {release} live on {len(self._frontends)} {where}",
            Deployed(request.compilation_id, release),
        )

    def note_done(self, item: WorkItem, outcome: WorkOutcome) -> None:
        pass

    def record(self, session: Session, run_id: int, done: Sequence[tuple[WorkItem, WorkOutcome]]) -> None:
        deployer.flush_frontends([fe.path for fe in self._frontends])  # on disk before recorded as deployed
        record_deployments(session, self._frontends, [(item.module_id, outcome.result) for item, outcome in done], run_id)


def record_deployments(
    session: Session,
    frontends: Sequence[Frontend],
    deployed: Sequence[tuple[int, Deployed]],
    run_id: int | None,
) -> None:
    """Mark modules (by id) as live with their release, and add the per-front-end history rows."""
    if not deployed:
        return
    now = utcnow()
    session.execute(
        update(ModuleRow),
        [
            {"id": module_id, "deployed_compilation_id": d.compilation_id, "deployed_release": d.release_id,
             "deployed_at": now}
            for module_id, d in deployed
        ],
    )
    session.execute(
        insert(DeploymentRow),
        [
            {"module_id": module_id, "frontend_id": fe.id, "compilation_id": d.compilation_id,
             "release_id": d.release_id, "run_id": run_id, "deployed_at": now}
            for module_id, d in deployed
            for fe in frontends
        ],
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

    def producers_named(self, names: Sequence[str]) -> dict[str, bool | None]:
        with self._lock:
            return {name: self._status.get(name.casefold()) for name in names}

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

    def __init__(self, platform: PlatformSpec, producers: ProducerBook, batches: CompileBatches) -> None:
        """``batches`` compiles whole batches: in worker processes for big runs, else here."""
        self._platform = platform
        self._producers = producers
        self._batches = batches

    def perform_batch(self, items: Sequence[WorkItem]) -> list[WorkOutcome | Exception]:
        # Producers are always finished before their consumers are handed out.
        jobs = [CompileJob(item.payload.source_sha256, self._producers.producers_named(item.depends)) for item in items]
        results = self._batches.compile(jobs)
        return [
            result if isinstance(result, Exception) else self._outcome(item, result)
            for item, result in zip(items, results, strict=True)
        ]

    def _outcome(self, item: WorkItem, outcome: CompileOutcome) -> WorkOutcome:
        request: CompileRequest = item.payload
        compiled = Compiled(request.version_id, outcome)
        if outcome.succeeded:
            return WorkOutcome(PREPARED, None, f"prepared for {self._platform.version}", compiled)
        return WorkOutcome("failed", "compilation-failed", outcome.reason, compiled)

    def note_done(self, item: WorkItem, outcome: WorkOutcome) -> None:
        self._producers.note(item.module, outcome.status == PREPARED)

    def record(self, session: Session, run_id: int, done: Sequence[tuple[WorkItem, WorkOutcome]]) -> None:
        record_compilations(session, [outcome.result for _item, outcome in done], self._platform.version)


def record_compilations(session: Session, compiled: Sequence[Compiled], platform: str) -> dict[int, int]:
    """Insert, or replace failed earlier attempts of, these versions' compilations for ``platform``.

    Returns the compilation id of each module version id. A few statements whatever the count.
    """
    now = utcnow()
    rows = {
        c.version_id: {
            "module_version_id": c.version_id,
            "platform_version": platform,
            "succeeded": c.outcome.succeeded,
            "reason": c.outcome.reason,
            "artifact_sha256": c.outcome.artifact_sha256,
            "artifact_size": c.outcome.artifact_size,
            "compiled_at": now,
        }
        for c in compiled
    }
    ids: dict[int, int] = {}
    version_ids = list(rows)
    for start in range(0, len(version_ids), _CHUNK):
        chunk = version_ids[start : start + _CHUNK]
        found = session.execute(
            select(CompilationRow.module_version_id, CompilationRow.id).where(
                CompilationRow.module_version_id.in_(chunk), CompilationRow.platform_version == platform
            )
        )
        ids.update((version_id, compilation_id) for version_id, compilation_id in found)
    if ids:
        session.execute(update(CompilationRow), [{"id": ids[v], **rows[v]} for v in ids])
    new = [rows[v] for v in version_ids if v not in ids]
    if new:
        inserted = session.execute(
            insert(CompilationRow).returning(
                CompilationRow.module_version_id, CompilationRow.id, sort_by_parameter_order=True
            ),
            new,
        )
        ids.update((version_id, compilation_id) for version_id, compilation_id in inserted)
    return ids


_CHUNK = 5000  # ids per IN (...): well under every backend's limit on bound parameters


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
        frontends: Sequence[Frontend],
        platform: PlatformSpec,
        producers: ProducerBook,
        batches: PublishBatches,
    ) -> None:
        """``batches`` compiles and deploys whole batches: in worker processes for big runs, else here."""
        self._frontends = tuple(frontends)
        self._platform = platform
        self._producers = producers
        self._batches = batches

    def perform_batch(self, items: Sequence[WorkItem]) -> list[WorkOutcome | Exception]:
        jobs = []
        for item in items:
            request: PublishRequest = item.payload
            assert item.version is not None
            producers = self._producers.producers_named(item.depends)
            jobs.append(PublishJob(CompileJob(request.source_sha256, producers), item.module, item.version,
                                   dict(request.config_overrides)))
        results = self._batches.publish(jobs)
        return [
            result if isinstance(result, Exception) else self._outcome(item, *result)
            for item, result in zip(items, results, strict=True)
        ]

    def _outcome(self, item: WorkItem, outcome: CompileOutcome, release: str | Exception | None) -> WorkOutcome:
        request: PublishRequest = item.payload
        compiled = Compiled(request.version_id, outcome)
        if not outcome.succeeded:
            return WorkOutcome("failed", "compilation-failed", outcome.reason, Published(compiled, None))
        if isinstance(release, Exception) or release is None:
            message = getattr(release, "message", None) or f"{type(release).__name__}: {release}"
            return WorkOutcome("failed", message, message, Published(compiled, None))
        # The compilation id is known only once recorded; 0 is replaced in record().
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

    def record(self, session: Session, run_id: int, done: Sequence[tuple[WorkItem, WorkOutcome]]) -> None:
        published = [(item.module_id, outcome.result) for item, outcome in done]
        if any(p.deployed is not None for _m, p in published):
            deployer.flush_frontends([fe.path for fe in self._frontends])  # on disk before recorded
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

