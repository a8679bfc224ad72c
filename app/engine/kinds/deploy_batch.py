"""A batch of releases made live on every front-end: in this process or a worker process.

Imports neither the database nor Qt, so that a worker process starts fast. The switches' last
flush is left to the run, which makes it once for many batches before it records them, except
on the front-ends whose kind wants each batch to make its own switches durable (over SSH: the
run's coordinator then never waits on the network).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from app.engine.artifacts import ArtifactStore
from app.engine.config import config_bytes
from app.engine.errors import DeployCenterError
from app.engine.frontend import farm
from app.engine.frontend.content import ReleaseRequest, release_files
from app.engine.frontend.registry import Frontend, flushed_by_batches, shared_targets
from app.engine.frontend.target import FrontendTarget, ReleaseFiles, Switch


def deploy_batch(
    artifacts: str,
    frontends: list[Frontend],
    requests: list[ReleaseRequest],
    keep: int = farm.DEFAULT_KEEP,
    switch: bool = True,
    also_keep: Mapping[str, frozenset[str]] | None = None,
    stage_only: bool = False,
) -> list[farm.Rollout]:
    """In any process: deploy these releases together; per request, how it went on each front-end.

    With ``switch`` False they are only staged everywhere (``farm.stage_releases``); with
    ``stage_only`` as well, no switch follows in this process (a stage run), so what staging
    prepared for one is removed at once instead of staying behind on the front-ends.
    """
    store = ArtifactStore(Path(artifacts))
    targets = shared_targets(frontends)
    rollouts = deploy_releases(store, targets, requests, keep, switch, also_keep)
    if not switch:
        if stage_only:
            farm.forget_prepared(targets, [request.module for request in requests])
        return rollouts  # staged releases are durable when staging returns
    # Where the front-end's kind asks for it, the batch makes its switches durable itself.
    durable_now = flushed_by_batches(frontends)
    return farm.made_durable([target for target in targets if target.name in durable_now], rollouts)


def deploy_releases(
    store: ArtifactStore,
    targets: Sequence[FrontendTarget],
    requests: Sequence[ReleaseRequest],
    keep: int = farm.DEFAULT_KEEP,
    switch: bool = True,
    also_keep: Mapping[str, frozenset[str]] | None = None,
) -> list[farm.Rollout]:
    """Read every release's artifact, then stage and switch them all on every front-end together.

    A release ``also_keep`` names for its module was staged by an earlier run: it is only switched,
    unless a front-end turns out not to hold it (then it is written the full way after all).
    """
    if switch and also_keep:
        staged = [i for i, r in enumerate(requests) if r.release_id in also_keep.get(r.module, frozenset())]
        if staged:
            return _switch_first(store, targets, requests, staged, keep, also_keep)
    return _in_full(store, targets, requests, keep, switch, also_keep)


def _in_full(
    store: ArtifactStore,
    targets: Sequence[FrontendTarget],
    requests: Sequence[ReleaseRequest],
    keep: int,
    switch: bool,
    also_keep: Mapping[str, frozenset[str]] | None,
) -> list[farm.Rollout]:
    results: list[farm.Rollout | None] = [None] * len(requests)
    ready: list[tuple[int, ReleaseFiles]] = []
    for index, request in enumerate(requests):
        try:
            ready.append((index, release_files(request, store.load(request.artifact_sha256), checked=True)))
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


def _switch_first(
    store: ArtifactStore,
    targets: Sequence[FrontendTarget],
    requests: Sequence[ReleaseRequest],
    staged: Sequence[int],
    keep: int,
    also_keep: Mapping[str, frozenset[str]],
) -> list[farm.Rollout]:
    """Switch the staged releases; deploy the others, and the staged ones that did not switch, in full."""
    switches = [Switch(requests[i].module, requests[i].release_id, config_bytes(requests[i].config)) for i in staged]
    results: dict[int, farm.Rollout] = {}
    for index, rollout in zip(staged, farm.switch_staged(targets, switches, keep, also_keep), strict=True):
        if rollout.release_id is not None:
            results[index] = rollout
    rest = [i for i in range(len(requests)) if i not in results]
    for index, rollout in zip(
        rest, _in_full(store, targets, [requests[i] for i in rest], keep, True, also_keep), strict=True
    ):
        results[index] = rollout
    return [results[index] for index in range(len(requests))]
