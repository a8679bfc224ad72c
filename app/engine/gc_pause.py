"""Pausing Python's cycle collector while many short-lived, acyclic objects are made.

Building 100,000 small tuples (a plan, a run's rows) makes the cycle collector rescan them dozens
of times, which costs as much as the query that made them and holds the interpreter lock the
window needs. They hold no cycles, so collecting can wait until the end.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cycle collector off for the block, and back as it was after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
