"""What a run works on and what a run kind must do: the contract between the executor and the kinds.

The executor (``executor.RunExecutor``) knows the order, the workers, cancel and the record;
a run kind (``app.engine.kinds``) knows what one module's work is. They meet here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from sqlalchemy.orm import Session

from app.engine.vocabulary import ItemStatus

P = TypeVar("P")
# Asked before each module starts: why the run must start no more (e.g. "window-closed"), or None.
StopCheck = Callable[[], "str | None"]
MAX_BATCH = 16  # ready modules one worker takes at once, unless a work says otherwise; they share disk flushes
SPREAD = 4  # batches per worker the ready modules are cut into, unless a work says otherwise


@dataclass(frozen=True)
class WorkItem(Generic[P]):
    """One module a run works on, as plain values a worker thread may hold; ``payload`` is the kind's."""

    module_id: int
    module: str
    application: str
    version: int | None
    depends: tuple[str, ...]
    payload: P

    @property
    def key(self) -> str:
        return self.module.casefold()


@dataclass(frozen=True)
class WorkOutcome:
    """How one module's work ended; ``result`` is what the kind records for it (None: nothing)."""

    status: ItemStatus
    reason: str | None = None
    message: str | None = None
    result: Any = None
    frontends: Mapping[str, str] | None = None  # where the module went, by front-end


class RunWork(Protocol[P]):
    """What a kind of run does with each item."""

    @property
    def blocks_consumers(self) -> bool:
        """Whether a failed module's consumers are not attempted."""

    @property
    def blocked_by(self) -> str:
        """What a blocked item names as the cause: its "producer", or (working consumers first, as a
        rollback does) its "consumer"."""

    @property
    def max_batch(self) -> int:
        """Modules one worker takes at once, at most: more when a module costs little (a switch of a
        staged release), so that more of them share a disk flush."""

    @property
    def spread(self) -> int:
        """Batches per worker the ready modules are cut into while many are ready (``SPREAD``):
        fewer and bigger where each batch costs round trips to a front-end
        (``frontend.feeding.Feeding``)."""

    def perform_batch(self, items: Sequence[WorkItem[P]]) -> list[WorkOutcome | Exception]:
        """Worker thread: the real work on a few ready items, on plain values; no database.

        One result per item, in order: its outcome, or the error that made it fail. Items of a
        batch never depend on each other.
        """

    def note_done(self, item: WorkItem[P], outcome: WorkOutcome) -> None:
        """Coordinator: called before any consumer of ``item`` is handed to a worker."""

    def record(self, session: Session, run_id: int, done: Sequence[tuple[WorkItem[P], WorkOutcome]]) -> None:
        """Coordinator, inside a batch transaction: persist what these outcomes changed, in bulk."""


@runtime_checkable
class ConcludingWork(Protocol[P]):
    """A kind whose work ends with a step over the whole run, once every item has an outcome:
    a rolling run switches one front-end at a time there (rules.md#rolling)."""

    @property
    def switch_order(self) -> tuple[str, ...]:
        """The front-ends the step switches one after another, in that order (() when all at once)."""

    def conclude(
        self,
        outcomes: Sequence[tuple[WorkItem[P], WorkOutcome]],
        cancelled: bool,
        log: Callable[[str, str], None],
    ) -> list[tuple[WorkItem[P], WorkOutcome]]:
        """Coordinator: the final outcome of each item this step changed (``log(level, text)`` reports)."""
