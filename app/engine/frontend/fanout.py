"""One call on every front-end at once, results in order: the farm's writes and the plan's reads
alike (over SSH each call is a round trip of its own). Light on purpose: read-only commands that
check front-ends import it without the deploy machinery."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

S = TypeVar("S")
T = TypeVar("T")


def on_each(targets: Sequence[S], call: Callable[[S], T]) -> list[T]:
    """``call`` on every target (or target position), in parallel threads when there are
    several; results in order."""
    if len(targets) <= 1:
        return [call(target) for target in targets]
    with ThreadPoolExecutor(len(targets), thread_name_prefix="frontend") as pool:
        return list(pool.map(call, targets))
