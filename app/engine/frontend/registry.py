"""The environment's front-ends as plain values, and the targets that work on them.

Plain values with no database behind them: worker processes are handed these and build their
own targets (``lookup.frontends_of_session`` reads them from the database).

A run opens each front-end's target once and every batch reuses it, in the run's process and
in each worker process (``shared_targets``): a front-end across the network keeps one
connection per process for the whole run instead of one per batch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.engine.frontend.kinds import FrontendKind

if TYPE_CHECKING:  # the target machinery loads when a target is made
    from app.engine.frontend.target import FrontendTarget, TargetStats


@dataclass(frozen=True)
class Frontend:
    """One front-end as recorded: plain values, so worker processes can be handed it."""

    id: int
    name: str
    location: str  # its TARGET as stored: a folder, or an ssh:// target
    kind: FrontendKind = FrontendKind.LOCAL
    enabled: bool = True
    health_cmd: str | None = None
    # A rolling run's hooks (``hooks``, ``health``): shell commands run on this machine, and a URL.
    drain_cmd: str | None = None
    undrain_cmd: str | None = None
    health_url: str | None = None
    health_timeout: float | None = None  # seconds for the checks to pass after a switch; None: the default
    drained_by: int | None = None  # the run that drained it and has not undrained it yet

    def __post_init__(self) -> None:
        # Read back from a database row or a worker's arguments, the kind may come as its plain word.
        object.__setattr__(self, "kind", FrontendKind(self.kind))

    def target(self) -> FrontendTarget:
        """A new target for this front-end; the caller closes it."""
        return self.kind.driver.open(self.name, self.location)

    @property
    def key(self) -> str:
        """One spelling per front-end: a folder recorded twice (through a link, say) is one."""
        return self.kind.driver.key(self.location)


def enabled(frontends: Sequence[Frontend]) -> list[Frontend]:
    """The front-ends runs write to: a disabled one is reported, not written (rules.md#unreachable)."""
    return [frontend for frontend in frontends if frontend.enabled]


def flushed_by_batches(frontends: Sequence[Frontend]) -> frozenset[str]:
    """The names of those whose kind has each batch make its own switches durable
    (``Feeding.durable_per_batch``); the others are flushed before a run records its batches."""
    return frozenset(frontend.name for frontend in frontends if frontend.kind.driver.feeding.durable_per_batch)


def targets_of(frontends: Sequence[Frontend]) -> list[FrontendTarget]:
    """A new target per distinct front-end; the caller closes them."""
    seen: dict[str, FrontendTarget] = {}
    for frontend in frontends:
        if frontend.key not in seen:
            seen[frontend.key] = frontend.target()
    return list(seen.values())


@contextmanager
def opened(frontends: Sequence[Frontend]) -> Iterator[list[FrontendTarget]]:
    """New targets for ``frontends``, closed on the way out."""
    targets = targets_of(frontends)
    try:
        yield targets
    finally:
        for target in targets:
            target.close()


class _SharedTargets:
    """This process's open targets, by front-end, while some run uses them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._targets: dict[tuple[int, str], FrontendTarget] = {}
        self._users = 0
        self._pinned = False  # a worker process: kept until the process ends

    def get(self, frontends: Sequence[Frontend]) -> list[FrontendTarget]:
        with self._lock:
            if self._users == 0:
                self._pinned = True  # used outside any run: a worker process of one
            found: dict[str, FrontendTarget] = {}
            for frontend in frontends:
                if frontend.key in found:
                    continue
                key = (frontend.id, frontend.key)
                if key not in self._targets:
                    self._targets[key] = frontend.target()
                found[frontend.key] = self._targets[key]
            return list(found.values())

    def stats(self) -> dict[str, TargetStats]:
        """What each open target has cost so far, by front-end name."""
        with self._lock:
            targets = list(self._targets.values())
        return {target.name: target.stats() for target in targets}

    @contextmanager
    def in_use(self) -> Iterator[None]:
        with self._lock:
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                doomed = list(self._targets.values()) if self._users == 0 and not self._pinned else []
                if doomed:
                    self._targets.clear()
            for target in doomed:
                target.close()


_shared = _SharedTargets()


def shared_targets(frontends: Sequence[Frontend]) -> list[FrontendTarget]:
    """This process's targets for ``frontends``, opened on first use and kept while a run lasts."""
    return _shared.get(frontends)


def shared_stats() -> dict[str, TargetStats]:
    """What this process's shared targets have cost so far, by front-end name (``RunStats``)."""
    return _shared.stats()


@contextmanager
def targets_in_use() -> Iterator[None]:
    """Keep the shared targets open for a run; the last run to end closes them."""
    with _shared.in_use():
        yield
