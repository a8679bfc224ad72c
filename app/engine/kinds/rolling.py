"""Rolling runs (rules.md#rolling): stage on every front-end, then switch one front-end at a time.

Any kind that can stage without switching (deploy, rollback, publish solution) runs rolling by
wrapping its work in ``RollingWork``: the executor stages every module in dependency order as
usual, each item ending ``staged`` for the moment; once all are staged, ``conclude`` switches the
first front-end, makes it durable and runs its health command, then the next front-end, and so
on. When a check fails, that front-end and those before it are switched back, and every module
still going fails with the name of that check. Nothing is recorded as live until every front-end
passed, so a run that dies in between is undone by the reconciliation (``recovery``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from app.engine.events import EventSink, FrontendSwitched, ignore_events
from app.engine.frontend import farm
from app.engine.frontend.registry import Frontend, shared_targets
from app.engine.frontend.target import FrontendError, FrontendTarget, Prune, Staged, Switch
from app.engine.runs.work import SPREAD, RunWork, SpreadingWork, WorkItem, WorkOutcome
from app.engine.vocabulary import ItemStatus

P = TypeVar("P")
HEALTH_TIMEOUT = 60.0  # seconds a health command may take
FRONTEND_VARIABLE = "DEPLOYCENTER_FRONTEND"  # names the front-end to its health command
Log = Callable[[str, str], None]


@dataclass(frozen=True)
class Waiting:
    """A module staged on every front-end, waiting to be switched; ``staged`` by front-end name."""

    key: str
    module: str
    release_id: str
    config: bytes | None
    staged: Mapping[str, Staged]


@dataclass(frozen=True)
class Switched:
    """How a waiting module's switches ended: ``error`` None when it is live everywhere."""

    error: str | None
    frontends: Mapping[str, str]


class StagingWork(RunWork[P], Protocol[P]):
    """A kind's work set to stage only, which can say what it staged and how the switch ended."""

    def waiting(self, item: WorkItem[P], outcome: WorkOutcome) -> Waiting | None:
        """The release ``item`` staged, when it is staged everywhere."""

    def switched(self, item: WorkItem[P], outcome: WorkOutcome, result: Switched) -> WorkOutcome:
        """The item's final outcome once the rolling switch ended for it."""


def health_check(frontend: Frontend | None, name: str) -> str | None:
    """Run the front-end's health command on this machine; None when it passes or there is none."""
    command = frontend.health_cmd if frontend is not None else None
    if not command:
        return None
    env = {**os.environ, FRONTEND_VARIABLE: name}
    try:
        done = subprocess.run(
            command,
            shell=True,
            env=env,
            timeout=HEALTH_TIMEOUT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"health check of front-end {name} did not finish within {HEALTH_TIMEOUT:.0f} s"
    except OSError as error:
        return f"health check of front-end {name} could not start: {error.strerror or error}"
    if done.returncode == 0:
        return None
    said = (done.stderr or done.stdout or b"").decode("utf-8", "replace").strip().splitlines()
    tail = f": {said[-1][:200]}" if said else ""
    return f"health check of front-end {name} failed (exit {done.returncode}){tail}"


def switch_in_waves(
    frontends: Sequence[Frontend],
    targets: Sequence[FrontendTarget],
    waiting: Sequence[Waiting],
    keep: int,
    log: Log,
    on_wave: Callable[[str, int, bool, str | None], None] = lambda *_args: None,
) -> dict[str, Switched]:
    """Switch ``waiting`` (in the order given) one target at a time, each followed by its health check.

    ``on_wave(front-end, modules switched, whether it has a check, problem)`` after each.
    """
    by_name = {frontend.name: frontend for frontend in frontends}
    states: dict[str, dict[str, str]] = {w.key: {t.name: farm.STAGED for t in targets} for w in waiting}
    errors: dict[str, str] = {}
    done: list[FrontendTarget] = []
    going = list(waiting)
    for target in targets:
        if not going:
            break
        problems = farm.switch_on(target, [Switch(w.module, w.release_id, w.config) for w in going])
        failed = [w for w, problem in zip(going, problems, strict=True) if problem is not None]
        for w, problem in zip(going, problems, strict=True):
            states[w.key][target.name] = farm.LIVE if problem is None else farm.FAILED
            if problem is not None:
                errors[w.key] = problem.message
        going = [w for w in going if w.key not in errors]
        _switch_back(done, failed, states)
        why = _flush(target)
        frontend = by_name.get(target.name)
        if why is None:
            log("info", f"front-end {target.name}: {len(going)} module(s) switched; checking its health")
            why = health_check(frontend, target.name)
        on_wave(target.name, len(going), bool(frontend and frontend.health_cmd), why)
        if why is not None:
            log("error", f"{why}: switching back front-end {target.name} and the ones before it")
            _switch_back([*done, target], going, states)
            errors.update((w.key, why) for w in going)
            going = []
            break
        log("info", f"front-end {target.name}: healthy")
        done.append(target)
    for target in targets:
        if going:
            target.prune(
                [Prune(w.module, farm.protected(w.release_id, w.staged.get(target.name)), keep) for w in going]
            )
    return {w.key: Switched(errors.get(w.key), states[w.key]) for w in waiting}


def _flush(target: FrontendTarget) -> str | None:
    try:
        target.flush()
    except FrontendError as error:
        return error.message
    return None


def _switch_back(
    targets: Sequence[FrontendTarget], modules: Sequence[Waiting], states: dict[str, dict[str, str]]
) -> None:
    """Put back, on each of ``targets``, what was live there before ``modules`` were staged."""
    for target in targets:
        back = [w for w in reversed(modules) if target.name in w.staged]
        if not back:
            continue
        changes = [
            Switch(w.module, w.staged[target.name].previous_release, w.staged[target.name].previous_config)
            for w in back
        ]
        for w, problem in zip(back, farm.switch_on(target, changes), strict=True):
            states[w.key][target.name] = farm.SWITCHED_BACK if problem is None else farm.FAILED
        _flush(target)


class RollingWork(Generic[P]):
    """A staging work, then the rolling switch of every module it staged (rules.md#rolling)."""

    def __init__(
        self,
        inner: StagingWork[P],
        frontends: Sequence[Frontend],
        keep: int,
        run_id: int = 0,
        on_event: EventSink = ignore_events,
    ) -> None:
        self._inner = inner
        self._frontends = list(frontends)
        self._keep = keep
        self._run_id = run_id
        self._emit = on_event

    def _wave(self, frontend: str, modules: int, checked: bool, problem: str | None) -> None:
        self._emit(FrontendSwitched(self._run_id, frontend, modules, checked, problem))

    @property
    def blocks_consumers(self) -> bool:
        return self._inner.blocks_consumers

    @property
    def blocked_by(self) -> str:
        return self._inner.blocked_by

    @property
    def max_batch(self) -> int:
        return self._inner.max_batch

    @property
    def spread(self) -> int:
        return self._inner.spread if isinstance(self._inner, SpreadingWork) else SPREAD

    def perform_batch(self, items: Sequence[WorkItem[P]]) -> list[WorkOutcome | Exception]:
        return self._inner.perform_batch(items)

    def note_done(self, item: WorkItem[P], outcome: WorkOutcome) -> None:
        self._inner.note_done(item, outcome)

    def record(self, session: Session, run_id: int, done: Sequence[tuple[WorkItem[P], WorkOutcome]]) -> None:
        self._inner.record(session, run_id, done)

    def conclude(
        self, outcomes: Sequence[tuple[WorkItem[P], WorkOutcome]], cancelled: bool, log: Log
    ) -> list[tuple[WorkItem[P], WorkOutcome]]:
        staged = [(item, outcome) for item, outcome in outcomes if outcome.status == ItemStatus.STAGED]
        if cancelled:
            return [(item, _not_switched(outcome)) for item, outcome in staged]
        waiting: list[tuple[WorkItem[P], WorkOutcome, Waiting]] = []
        for item, outcome in staged:
            found = self._inner.waiting(item, outcome)
            if found is not None:
                waiting.append((item, outcome, found))
        targets = shared_targets(self._frontends)
        results = switch_in_waves(self._frontends, targets, [w for _i, _o, w in waiting], self._keep, log, self._wave)
        return [(item, self._inner.switched(item, outcome, results[w.key])) for item, outcome, w in waiting]


def _not_switched(outcome: WorkOutcome) -> WorkOutcome:
    return WorkOutcome(
        ItemStatus.CANCELLED,
        "cancelled",
        "staged on every front-end; the run was cancelled before switching",
        None,
        outcome.frontends,
    )


def staged_message(rollout: farm.Rollout) -> str:
    where = len(rollout.staged)
    return f"release {rollout.release_id} staged on {where} front-end{'' if where == 1 else 's'}"


def waiting_of(key: str, module: str, rollout: farm.Rollout) -> Waiting | None:
    if rollout.release_id is None:
        return None
    return Waiting(key, module, rollout.release_id, rollout.config, dict(rollout.staged))


def switched_outcome(result: Switched, release_id: str, recorded: Any) -> WorkOutcome:
    """A deploy item's outcome after its rolling switch; ``recorded`` is what the kind records."""
    if result.error is not None:
        return WorkOutcome(ItemStatus.FAILED, result.error, result.error, None, result.frontends)
    live = sum(state == farm.LIVE for state in result.frontends.values())
    return WorkOutcome(
        ItemStatus.DEPLOYED,
        None,
        f"release {release_id} live on {live} front-ends, switched one at a time",
        recorded,
        result.frontends,
    )
