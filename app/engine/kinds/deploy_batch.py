"""A batch of releases made live on every front-end: in this process or a worker process.

Imports neither the database nor Qt, so that a worker process starts fast. The switches' last
flush is left to the run, which makes it once for many batches before it records them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from app.engine.artifacts import ArtifactStore
from app.engine.errors import DeployCenterError
from app.engine.frontend import farm
from app.engine.frontend.content import ReleaseRequest, release_files
from app.engine.frontend.registry import Frontend, shared_targets
from app.engine.frontend.target import FrontendTarget, ReleaseFiles


def deploy_batch(
    artifacts: str,
    frontends: list[Frontend],
    requests: list[ReleaseRequest],
    keep: int = farm.DEFAULT_KEEP,
    switch: bool = True,
    also_keep: Mapping[str, frozenset[str]] | None = None,
) -> list[farm.Rollout]:
    """In any process: deploy these releases together; per request, how it went on each front-end.

    With ``switch`` False they are only staged everywhere (``farm.stage_releases``).
    """
    store = ArtifactStore(Path(artifacts))
    return deploy_releases(store, shared_targets(frontends), requests, keep, switch, also_keep)


def deploy_releases(
    store: ArtifactStore,
    targets: Sequence[FrontendTarget],
    requests: Sequence[ReleaseRequest],
    keep: int = farm.DEFAULT_KEEP,
    switch: bool = True,
    also_keep: Mapping[str, frozenset[str]] | None = None,
) -> list[farm.Rollout]:
    """Read every release's artifact, then stage and switch them all on every front-end together."""
    results: list[farm.Rollout | None] = [None] * len(requests)
    ready: list[tuple[int, ReleaseFiles]] = []
    for index, request in enumerate(requests):
        try:
            ready.append((index, release_files(request, store.read(request.artifact_sha256))))
        except DeployCenterError as error:
            results[index] = farm.Rollout(None, error)
    releases = [files for _index, files in ready]
    if switch:
        outcomes = farm.deploy_releases(targets, releases, keep, also_keep)
    else:
        outcomes = farm.stage_releases(targets, releases)
    for (index, _files), outcome in zip(ready, outcomes, strict=True):
        results[index] = outcome
    done = [result for result in results if result is not None]
    assert len(done) == len(requests), "every request ends with a release id or an error"
    return done
