"""A batch of compilations, as upgrades and publishes do them: in this process or a worker process.

Imports neither the database nor Qt, so that a worker process starts fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.engine.artifacts import ArtifactCorruptError, ArtifactStore, PendingZip
from app.engine.blobs import BlobError
from app.engine.bundle import Bundle, bundle_from_source_zip
from app.engine.compiler import CompileOutcome, PlatformSpec, artifact_content, first_failure
from app.engine.control.entry import RECOMPILE, PlanEntry, config_sha256
from app.engine.errors import DeployCenterError


@dataclass(frozen=True)
class CompileJob:
    """One stored module version (``version`` of ``module``) to compile for the run's platform.

    ``producers`` says how each producer's compilation went (None: no such module), filled in
    when the job is handed to a worker. For a publish that deploys what compiles,
    ``config_defaults`` are the version's defaults as the database records them (its stored
    source has no secret's value) and ``config_overrides`` the values applied to the module.
    """

    module: str
    version: int
    version_id: int
    source_sha256: str
    producers: Mapping[str, bool | None] = field(default_factory=dict)
    config_defaults: Mapping[str, str] = field(default_factory=dict)
    config_overrides: Mapping[str, str] = field(default_factory=dict)

    def plan_entry(self) -> PlanEntry:
        """Its release is known only once compiled; the values applied to the module are known now."""
        return PlanEntry(RECOMPILE, None, None, config_sha256(self.config_overrides))


CompileResult = CompileOutcome | DeployCenterError


def compile_batch(artifacts: str, platform: PlatformSpec, jobs: list[CompileJob]) -> list[CompileResult]:
    """In any process: compile these module versions; their artifacts share two flushes."""
    return compile_sources(ArtifactStore(Path(artifacts)), platform, jobs)


def compile_sources(store: ArtifactStore, platform: PlatformSpec, jobs: Sequence[CompileJob]) -> list[CompileResult]:
    """Per job: how its compilation went, or the error that kept it from being tried. Every
    artifact built is stored in one go."""
    results: list[CompileResult | None] = []
    built: list[tuple[int, PendingZip]] = []
    try:
        for index, job in enumerate(jobs):
            try:
                bundle = bundle_from_source_zip(store.load(job.source_sha256))
                reason = first_failure(bundle, platform, dict(job.producers))
                if reason is not None:
                    results.append(CompileOutcome.failed(reason))
                    continue
                built.append((index, _prepare(store, bundle, platform, job)))
                results.append(None)
            except DeployCenterError as error:
                results.append(error)
        stored = store.commit([artifact for _index, artifact in built])
    except BaseException:
        store.discard([artifact for _index, artifact in built])
        raise
    for (index, artifact), sha in zip(built, stored, strict=True):
        results[index] = CompileOutcome(succeeded=True, reason=None, artifact_sha256=sha, artifact_size=artifact.size)
    done = [result for result in results if result is not None]
    assert len(done) == len(jobs), "every job ends with an outcome or an error"
    return done


def _prepare(store: ArtifactStore, bundle: Bundle, platform: PlatformSpec, job: CompileJob) -> PendingZip:
    try:
        return store.prepare(artifact_content(bundle, platform), compress=False)
    except BlobError as error:
        problem = f"stored source {job.source_sha256} of {job.module} cannot be read: {error}"
        raise ArtifactCorruptError(problem) from None
