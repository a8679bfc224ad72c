"""Every enabled front-end of an environment at once: all of them or none (rules.md#all-or-none).

A batch of releases is first staged on every front-end (in parallel when there are several).
A release that fails to stage anywhere switches nowhere and fails, naming the front-end. Then
the front-ends switch, in parallel too; when a switch fails on one, the front-ends that had
switched that module switch back, so no module stays live in two releases. Pruning and the
final flush also go to every front-end at once: over SSH each is a round trip of its own.

A stage-only batch (``stage_releases``) stops after the first step: the releases stay on every
front-end, complete and durable, for a later run to switch (rules.md#stage) or for a rolling run to
switch one front-end at a time (rules.md#rolling). After a switch, each module keeps its live
release, the one live before it (the rollback target) and the ``keep`` newest others
(rules.md#retention); releases staged after the live one are newer than it, so they are among those.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from app.engine.errors import DeployCenterError
from app.engine.frontend.fanout import on_each
from app.engine.frontend.target import (
    FrontendError,
    FrontendTarget,
    Prune,
    ReleaseFiles,
    Staged,
    StageResult,
    Switch,
)

_log = logging.getLogger(__name__)
DEFAULT_KEEP = 3  # older releases kept beside the live one and the rollback target (rules.md#retention)


@dataclass(frozen=True)
class Rollout:
    """How one release went: live (``release_id``) or not (``error``), and on each front-end,
    by name, what it holds now (``LIVE``, ``SWITCHED_BACK``, ``FAILED``, ...)."""

    release_id: str | None
    error: DeployCenterError | None
    frontends: Mapping[str, str] = field(default_factory=dict)
    staged: Mapping[str, Staged] = field(default_factory=dict)  # by front-end name: what was live there before
    config: bytes | None = None  # the config.json that goes live with the release


# What a release left on one front-end.
LIVE = "live"
STAGED = "staged"
FAILED = "failed"
DISCARDED = "discarded"  # staged, then taken back because another front-end failed
SWITCHED_BACK = "switched back"
NOT_SWITCHED = "not switched"  # a front-end before it failed to switch


def deploy_releases(
    targets: Sequence[FrontendTarget],
    releases: Sequence[ReleaseFiles],
    keep: int = DEFAULT_KEEP,
    also_keep: Mapping[str, frozenset[str]] | None = None,
) -> list[Rollout]:
    """Make each release live on every target, or on none; one ``Rollout`` per release.

    Old releases are pruned after: ``also_keep`` names, by module, more releases to keep (the
    staged ones). The switches are durable once ``flush_all`` returns.
    """
    if not releases:
        return []
    rollout = _Farm(targets, releases)
    rollout.stage()
    rollout.switch()
    rollout.prune(keep, also_keep or {})
    return rollout.outcomes()


def stage_releases(targets: Sequence[FrontendTarget], releases: Sequence[ReleaseFiles]) -> list[Rollout]:
    """Write each release on every target, complete and durable, and switch nothing.

    A release that fails to stage on one target is taken back everywhere; the others stay staged,
    and their ``Rollout.release_id`` is set though nothing is live. ``Rollout.staged`` says, per
    target, what was live there, for switching back later.
    """
    if not releases:
        return []
    rollout = _Farm(targets, releases)
    rollout.stage()
    return rollout.outcomes()


def switch_staged(
    targets: Sequence[FrontendTarget],
    switches: Sequence[Switch],
    keep: int = DEFAULT_KEEP,
    also_keep: Mapping[str, frozenset[str]] | None = None,
) -> list[Rollout]:
    """Make live releases an earlier run staged (rules.md#stage), without writing them again.

    Target by target, as ``deploy_releases`` switches; a target that does not hold a release
    fails that switch, and the targets that had switched that module switch back. The caller
    deploys the failed ones the full way, which writes what is missing.
    """
    if not switches:
        return []
    modules = [change.module for change in switches]
    # What to switch back to; the last target's configuration is never needed: no switch after
    # it can fail (one front-end: none at all, which is most of the time saved).
    last = targets[-1] if targets else None
    before = on_each(
        targets,
        lambda target: (target.read_current(modules), target.read_config(modules) if target is not last else {}),
    )
    states: list[dict[str, str]] = [{} for _change in switches]
    errors: list[FrontendError | None] = [None] * len(switches)
    going = list(range(len(switches)))
    switched: dict[int, list[int]] = {index: [] for index in going}
    for position, target in enumerate(targets):
        problems = switch_on(target, [switches[i] for i in going])
        failed = []
        for index, problem in zip(going, problems, strict=True):
            states[index][target.name] = LIVE if problem is None else FAILED
            if problem is None:
                switched[index].append(position)
            else:
                errors[index] = problem
                failed.append(index)
        for back_position in sorted({p for index in failed for p in switched[index]}):
            back = [i for i in failed if back_position in switched[i]]
            current, config = before[back_position]
            modules = [switches[i].module for i in back]
            changes = [Switch(module, current[module], config[module]) for module in modules]
            for index, problem in zip(back, switch_on(targets[back_position], changes), strict=True):
                states[index][targets[back_position].name] = SWITCHED_BACK if problem is None else FAILED
        going = [index for index in going if index not in set(failed)]
    kept = also_keep or {}

    def prune_on(position: int) -> None:
        current = before[position][0]
        targets[position].prune(
            [
                Prune(
                    switches[i].module,
                    frozenset({switches[i].release_id or "", current[switches[i].module] or ""} - {""})
                    | kept.get(switches[i].module, frozenset()),
                    keep,
                )
                for i in going
            ]
        )

    on_each(list(range(len(targets))), prune_on)
    live = set(going)
    return [
        Rollout(
            change.release_id if index in live else None,
            None if index in live else errors[index],
            states[index],
            {},
            change.config,
        )
        for index, change in enumerate(switches)
    ]


def protected(release_id: str, staged: Staged | None) -> frozenset[str]:
    """What a switch to ``release_id`` must keep: it, and what was live before it (rules.md#retention)."""
    before = staged.previous_release if staged is not None else None
    return frozenset({release_id} if before is None else {release_id, before})


class _Farm:
    """One batch of releases across the targets, and where each release stands on each."""

    def __init__(self, targets: Sequence[FrontendTarget], releases: Sequence[ReleaseFiles]) -> None:
        self.targets = targets
        self.releases = releases
        self.errors: list[FrontendError | None] = [None] * len(releases)
        self.states: list[dict[str, str]] = [{} for _release in releases]
        self.staged: list[list[StageResult]] = []
        self.going: list[int] = list(range(len(releases)))

    def stage(self) -> None:
        self.staged = on_each(self.targets, self._stage_on)
        for target, per_target in zip(self.targets, self.staged, strict=True):
            for index, outcome in enumerate(per_target):
                if isinstance(outcome, FrontendError):
                    self.states[index][target.name] = FAILED
                    self.errors[index] = self.errors[index] or outcome
                else:
                    self.states[index][target.name] = STAGED
        self._give_up([i for i in self.going if self.errors[i] is not None], DISCARDED)

    def _stage_on(self, target: FrontendTarget) -> list[StageResult]:
        try:
            return target.stage(self.releases)
        except FrontendError as error:  # the whole call failed: a lost connection, say
            return [error] * len(self.releases)

    def switch(self) -> None:
        if not self.going:
            return
        going = self.going
        changes = [Switch(self.releases[i].module, self.releases[i].release_id, self.releases[i].config) for i in going]
        per_target = on_each(self.targets, lambda target: switch_on(target, changes))
        switched: dict[int, list[int]] = {index: [] for index in going}  # release -> targets
        failed: set[int] = set()
        for position, (target, errors) in enumerate(zip(self.targets, per_target, strict=True)):
            for index, problem in zip(going, errors, strict=True):
                if problem is None:
                    switched[index].append(position)
                    self.states[index][target.name] = LIVE
                else:
                    self.errors[index] = self.errors[index] or problem
                    self.states[index][target.name] = FAILED
                    failed.add(index)
        if failed:
            self._switch_back({index: switched[index] for index in sorted(failed)})
            self._give_up(sorted(failed), NOT_SWITCHED)

    def _switch_back(self, switched: Mapping[int, list[int]]) -> None:
        """Put back the previous release on the targets that had switched these releases."""

        def back_on(position: int) -> None:
            target = self.targets[position]
            back = []
            for index, positions in switched.items():
                item = self._staged(position, index)
                if position in positions and item is not None:
                    back.append((index, Switch(item.module, item.previous_release, item.previous_config)))
            if not back:
                return
            errors = switch_on(target, [change for _index, change in back])
            for (index, change), problem in zip(back, errors, strict=True):
                if problem is None:
                    self.states[index][target.name] = SWITCHED_BACK
                else:
                    _log.error("front-end %s: could not switch %s back: %s", target.location, change.module, problem)

        on_each(list(range(len(self.targets))), back_on)

    def _give_up(self, indexes: Sequence[int], state: str) -> None:
        """Take back the staged releases of these indexes everywhere; they go no further."""
        if not indexes:
            return
        for position, target in enumerate(self.targets):
            doomed = [item for item in (self._staged(position, i) for i in indexes) if item is not None]
            if doomed:
                target.discard(doomed)
            for index in indexes:
                if self.states[index].get(target.name) == STAGED:
                    self.states[index][target.name] = state
        self.going = [index for index in self.going if index not in set(indexes)]

    def prune(self, keep: int, also_keep: Mapping[str, frozenset[str]]) -> None:
        if not self.going:
            return

        def prune_on(position: int) -> None:
            self.targets[position].prune(
                [
                    Prune(
                        self.releases[i].module,
                        protected(self.releases[i].release_id, self._staged(position, i))
                        | also_keep.get(self.releases[i].module, frozenset()),
                        keep,
                    )
                    for i in self.going
                ]
            )

        on_each(list(range(len(self.targets))), prune_on)

    def _staged(self, position: int, index: int) -> Staged | None:
        outcome = self.staged[position][index]
        return outcome if isinstance(outcome, Staged) else None

    def outcomes(self) -> list[Rollout]:
        live = set(self.going)
        return [
            Rollout(
                release.release_id if index in live else None,
                None if index in live else self.errors[index],
                self.states[index],
                self._staged_by_name(index) if index in live else {},
                release.config,
            )
            for index, release in enumerate(self.releases)
        ]

    def _staged_by_name(self, index: int) -> dict[str, Staged]:
        found = {}
        for position, target in enumerate(self.targets):
            item = self._staged(position, index)
            if item is not None:
                found[target.name] = item
        return found


def switch_on(target: FrontendTarget, changes: Sequence[Switch]) -> list[FrontendError | None]:
    """``target.switch``, with a failure of the whole call (a lost connection) failing each switch."""
    try:
        return target.switch(changes)
    except FrontendError as error:
        return [error] * len(changes)


def forget_prepared(targets: Sequence[FrontendTarget], modules: Sequence[str]) -> None:
    """Remove, on every target, what staging prepared for switching these modules (their next
    ``CURRENT`` and ``config.json`` under temp names), when no switch of this process follows.

    Best effort: what stays is a leftover that ``verify`` reports and a later stage clears.
    """

    def forget_on(target: FrontendTarget) -> None:
        try:
            target.remove_leftovers(modules)
        except FrontendError as error:
            _log.warning("front-end %s: %s", target.location, error)

    on_each(targets, forget_on)


def flush_all(targets: Sequence[FrontendTarget]) -> None:
    """Make every switch made so far durable on every target (all at once)."""
    on_each(targets, lambda target: target.flush())


def made_durable(targets: Sequence[FrontendTarget], rollouts: Sequence[Rollout]) -> list[Rollout]:
    """Make the switches of ``rollouts`` durable on ``targets`` (all at once).

    A release that went live fails where a target could not flush, naming it: it may not survive
    a crash of that front-end, so the run must not record it as deployed.
    """
    if not targets or all(rollout.release_id is None for rollout in rollouts):
        return list(rollouts)
    problems = {
        target.name: problem
        for target, problem in zip(targets, on_each(targets, _flush_problem), strict=True)
        if problem
    }
    if not problems:
        return list(rollouts)
    name, problem = next(iter(problems.items()))
    failed = [
        replace(
            rollout,
            release_id=None,
            error=FrontendError(f"{problem.message} (the switch was made there but could not be made durable)"),
            frontends={**rollout.frontends, **dict.fromkeys(problems, FAILED)},
        )
        if rollout.release_id is not None
        else rollout
        for rollout in rollouts
    ]
    live = sum(rollout.release_id is not None for rollout in rollouts)
    _log.error("front-end %s: the switches of %d release(s) could not be made durable", name, live)
    return failed


def _flush_problem(target: FrontendTarget) -> FrontendError | None:
    try:
        target.flush()
    except FrontendError as error:
        return error
    return None


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
