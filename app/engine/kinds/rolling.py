"""Runs that stage first and switch at the end: rolling runs (one front-end at a time, with its
hooks and checks), and runs that soak after their whole switch (rules.md#rolling, rules.md#soak).

Any kind that can stage without switching (deploy, rollback, publish solution) runs this way by
wrapping its work in ``RollingWork``: the executor stages every module in dependency order as
usual, each item ending ``staged`` for the moment; once all are staged, ``conclude`` hands them
to ``farm_switch.FarmSwitch``, which switches the front-ends (one at a time when rolling: drain,
switch, check, soak, undrain), and switches them all back when a hook or a check fails. Nothing
is recorded as live until every front-end passed, so a run that dies in between is undone by the
reconciliation (``recovery``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.orm import Session

from app.engine.events import EventSink, guarded, ignore_events
from app.engine.frontend import farm
from app.engine.frontend.registry import Frontend, shared_targets
from app.engine.kinds.drains import DrainBook
from app.engine.kinds.farm_switch import FarmSwitch, Switched, SwitchPlan, Waiting
from app.engine.runs.options import RunOptions
from app.engine.runs.work import RunWork, StopCheck, WorkItem, WorkOutcome
from app.engine.vocabulary import ItemStatus

P = TypeVar("P")
Log = Callable[[str, str], None]
__all__ = ["RollingWork", "StagingWork", "Switched", "Waiting", "staged_message", "switched_outcome", "waiting_of"]


class StagingWork(RunWork[P], Protocol[P]):
    """A kind's work set to stage only, which can say what it staged and how the switch ended."""

    def waiting(self, item: WorkItem[P], outcome: WorkOutcome) -> Waiting | None:
        """The release ``item`` staged, when it is staged everywhere."""

    def switched(self, item: WorkItem[P], outcome: WorkOutcome, result: Switched) -> WorkOutcome:
        """The item's final outcome once the rolling switch ended for it."""


class RollingWork(Generic[P]):
    """A staging work, then the switch of every module it staged: rolling, or whole and soaked."""

    def __init__(
        self,
        inner: StagingWork[P],
        frontends: Sequence[Frontend],
        keep: int,
        run_id: int,
        *,
        options: RunOptions,
        drains: DrainBook,
        cancel: threading.Event,
        on_event: EventSink = ignore_events,
        stop: StopCheck | None = None,
    ) -> None:
        self._inner = inner
        self._stop = stop  # change control: when to switch nothing more
        self._frontends = list(frontends)
        self._plan = SwitchPlan(run_id, options.rolling, options.soak or 0.0, keep)
        self._drains = drains
        self._cancel = cancel
        self._emit = guarded(on_event)

    @property
    def switch_order(self) -> tuple[str, ...]:
        """The front-ends in the order a rolling switch takes them, for the run's first event (a
        whole switch takes them all at once: none)."""
        return tuple(frontend.name for frontend in self._frontends) if self._plan.rolling else ()

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
        return self._inner.spread

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
        targets = shared_targets(self._frontends)
        try:
            if cancelled:
                return [(item, _not_switched(outcome)) for item, outcome in staged]
            waiting: list[tuple[WorkItem[P], WorkOutcome, Waiting]] = []
            for item, outcome in staged:
                found = self._inner.waiting(item, outcome)
                if found is not None:
                    waiting.append((item, outcome, found))
            switch = FarmSwitch(
                self._frontends,
                targets,
                [w for _i, _o, w in waiting],
                self._plan,
                drains=self._drains,
                log=log,
                emit=self._emit,
                cancel=self._cancel,
                stop=self._stop,
            )
            results = switch.run()
            return [(item, self._inner.switched(item, outcome, results[w.key])) for item, outcome, w in waiting]
        finally:
            # The next CURRENT and config.json staging prepared on the front-ends no switch reached
            # (after a failed check, a cancel), or in a worker process: nothing renames them now.
            farm.forget_prepared(targets, [item.module for item, _outcome in staged])


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
    if result.stopped is not None:
        message = "staged on every front-end and switched back where it had switched: the run stopped switching"
        return WorkOutcome(
            ItemStatus.CANCELLED, result.stopped, f"{message} ({result.stopped})", None, result.frontends
        )
    if result.cancelled:
        return WorkOutcome(ItemStatus.CANCELLED, "cancelled", result.error, None, result.frontends)
    if result.error is not None:
        return WorkOutcome(ItemStatus.FAILED, result.error, result.error, None, result.frontends)
    live = sum(state == farm.LIVE for state in result.frontends.values())
    how = "one at a time" if result.rolling else "together, then soaked"
    return WorkOutcome(
        ItemStatus.DEPLOYED,
        None,
        f"release {release_id} live on {live} front-ends, switched {how}",
        recorded,
        result.frontends,
    )
