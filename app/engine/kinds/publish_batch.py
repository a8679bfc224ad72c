"""A batch of new module versions compiled and, when they compile, made live: in any process.

Imports neither the database nor Qt, so that a worker process starts fast.
"""

from __future__ import annotations

from pathlib import Path

from app.engine.artifacts import ArtifactStore
from app.engine.compiler import CompileOutcome, PlatformSpec
from app.engine.config import effective_config
from app.engine.errors import DeployCenterError
from app.engine.frontend.content import ReleaseRequest
from app.engine.frontend.farm import DEFAULT_KEEP, Rollout
from app.engine.frontend.registry import Frontend, shared_targets
from app.engine.kinds.compile_batch import CompileJob, compile_sources
from app.engine.kinds.deploy_batch import deploy_releases

PublishResult = tuple[CompileOutcome, "Rollout | None"]  # None: it did not compile, nothing deployed


def publish_batch(
    artifacts: str,
    frontends: list[Frontend],
    platform: PlatformSpec,
    jobs: list[CompileJob],
    keep: int = DEFAULT_KEEP,
    switch: bool = True,
) -> list[PublishResult | DeployCenterError]:
    """Per job: its compilation and then its release id (None when it did
    not compile), or the error that kept it from being compiled. A failed deploy keeps the
    compilation."""
    store = ArtifactStore(Path(artifacts))
    compiled = compile_sources(store, platform, jobs)
    requests: list[ReleaseRequest] = []
    deploying: list[int] = []
    for index, (job, outcome) in enumerate(zip(jobs, compiled, strict=True)):
        if isinstance(outcome, CompileOutcome) and outcome.succeeded:
            assert outcome.artifact_sha256 is not None
            config = effective_config(job.config_defaults, job.config_overrides)
            requests.append(ReleaseRequest(job.module, job.version, platform.version, outcome.artifact_sha256, config))
            deploying.append(index)
    rollouts = deploy_releases(store, shared_targets(frontends), requests, keep, switch)
    released = dict(zip(deploying, rollouts, strict=True))
    results: list[PublishResult | DeployCenterError] = []
    for index, outcome in enumerate(compiled):
        results.append(outcome if isinstance(outcome, DeployCenterError) else (outcome, released.get(index)))
    return results
