"""Every enabled front-end of an environment at once: all of them or none (contract, section 7.2).

A batch of releases is first staged on every front-end (in parallel when there are several).
A release that fails to stage anywhere switches nowhere and fails, naming the front-end. Then
the front-ends switch one after the other; when a switch fails on one, the front-ends that had
switched that module switch back, so no module stays live in two releases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from app.engine.frontend.target import (
    FrontendError,
    FrontendTarget,
    Prune,
    ReleaseFiles,
    Staged,
    StageResult,
    Switch,
)

T = TypeVar("T")
_log = logging.getLogger(__name__)
DEFAULT_KEEP = 2  # older releases kept beside the live one on every front-end


def on_each(targets: Sequence[FrontendTarget], call: Callable[[FrontendTarget], T]) -> list[T]:
    """``call`` on every target, in parallel threads when there are several; results in order."""
    if len(targets) == 1:
        return [call(targets[0])]
    with ThreadPoolExecutor(len(targets), thread_name_prefix="frontend") as pool:
        return list(pool.map(call, targets))


def deploy_releases(
    targets: Sequence[FrontendTarget], releases: Sequence[ReleaseFiles], keep: int = DEFAULT_KEEP
) -> list[str | FrontendError]:
    """Make each release live on every target; per release, its id or the error that left its
    module on its previous release everywhere. The switches are durable once ``flush_all``
    returns."""
    if not releases:
        return []
    staged = on_each(targets, lambda target: target.stage(releases))
    results: list[str | FrontendError | None] = [None] * len(releases)
    for per_target in staged:
        for index, outcome in enumerate(per_target):
            if isinstance(outcome, FrontendError) and results[index] is None:
                results[index] = outcome
    _discard(targets, staged, [i for i, result in enumerate(results) if result is not None])
    going = [i for i, result in enumerate(results) if result is None]
    switched: dict[int, list[int]] = {index: [] for index in going}  # release -> targets switched
    for position, target in enumerate(targets):
        if not going:
            break
        errors = target.switch([Switch(releases[i].module, releases[i].release_id, releases[i].config) for i in going])
        failed = []
        for index, error in zip(going, errors, strict=True):
            if error is None:
                switched[index].append(position)
            else:
                results[index] = error
                failed.append(index)
        if failed:
            _switch_back(targets, staged, {index: switched[index] for index in failed})
            _discard(targets, staged, failed)
            going = [index for index in going if index not in set(failed)]
    for target in targets:
        target.prune(
            [Prune(releases[i].module, frozenset({releases[i].release_id}), keep) for i in going]
        )
    for index in going:
        results[index] = releases[index].release_id
    done = [result for result in results if result is not None]
    assert len(done) == len(releases), "every release ends live or with its error"
    return done


def _staged_of(per_target: Sequence[StageResult], index: int) -> Staged | None:
    outcome = per_target[index]
    return outcome if isinstance(outcome, Staged) else None


def _discard(targets: Sequence[FrontendTarget], staged: Sequence[Sequence[StageResult]], indexes: Sequence[int]) -> None:
    if not indexes:
        return
    for target, per_target in zip(targets, staged, strict=True):
        doomed = [item for item in (_staged_of(per_target, i) for i in indexes) if item is not None]
        if doomed:
            target.discard(doomed)


def _switch_back(
    targets: Sequence[FrontendTarget], staged: Sequence[Sequence[StageResult]], switched: Mapping[int, list[int]]
) -> None:
    """Put back the previous release on the targets that had switched these releases."""
    for position, target in enumerate(targets):
        back = []
        for index, positions in switched.items():
            item = _staged_of(staged[position], index)
            if position in positions and item is not None:
                back.append(Switch(item.module, item.previous_release, item.previous_config))
        for change, error in zip(back, target.switch(back), strict=True):
            if error is not None:
                _log.error("front-end %s: could not switch %s back: %s", target.location, change.module, error)


def flush_all(targets: Sequence[FrontendTarget]) -> None:
    """Make every switch made so far durable on every target."""
    for target in targets:
        target.flush()


def apply_config(targets: Sequence[FrontendTarget], module: str, config: bytes) -> None:
    """Rewrite ``config.json`` on every target where ``module`` is live; all or nothing."""
    previous = {target.location: target.read_config([module])[module] for target in targets}
    live = [target for target in targets if target.read_current([module])[module] is not None]
    done: list[FrontendTarget] = []
    try:
        for target in live:
            target.write_config([(module, config)])
            done.append(target)
    except FrontendError:
        for target in done:
            try:
                target.write_config([(module, previous[target.location])])
            except FrontendError:
                pass  # the error being raised names the front-end that failed first
        raise


def remove_module(targets: Sequence[FrontendTarget], module: str) -> None:
    """Delete what Deploy Center created for ``module`` on every target."""
    for target in targets:
        target.remove([module])
