"""What every run kind shares: how a run starts, executes and ends, and how many workers it gets.

A kind's entry point checks and records what it needs in one writer transaction
(``begin_operation``, ``records.create_run``), then hands its items and its ``RunWork`` to
``execute``, which runs them with the executor and audits the end.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.engine.audit import audit
from app.engine.compiler import PlatformSpec
from app.engine.context import EnvironmentContext
from app.engine.events import EventSink
from app.engine.runs.executor import RunExecutor
from app.engine.runs.work import RunWork, WorkItem
from app.engine.vocabulary import RunKind, RunStatus


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, for exit codes and summaries."""

    run_id: int
    kind: RunKind
    status: RunStatus


def default_workers() -> int:
    """Modules compiled at once when the caller does not say: four per core, at most 16.

    Compiling is Python work and disk writes, one module at a time per worker; more modules
    than cores keep the cores busy, and modules waiting together share one disk flush
    (``durability``). Measured on 2 cores, 1,000 modules: 2 workers 6.4 s, 8 workers 3.4 s.
    """
    return min(16, 4 * max(1, os.cpu_count() or 1))


def default_deploy_workers() -> int:
    """Threads of a deploy run when the caller does not say: one per core and one more, at most 9.

    Deploy workers take batches that share their flushes (``executor.MAX_BATCH``), so few are
    needed: in big runs they only wait for the deploy processes, one per core; in a run without
    processes more threads only fight over the interpreter lock (2,000 modules on 2 cores: 1-2
    threads 2.8 s, 8 threads 4.1-4.6 s) and starve the window's thread of it.
    """
    return min(9, max(1, os.cpu_count() or 1) + 1)


def platform_spec(ctx: EnvironmentContext, version: str) -> PlatformSpec:
    entry = ctx.catalog.get(version)
    return PlatformSpec(entry.version, entry.capabilities)


def execute(
    ctx: EnvironmentContext,
    run_id: int,
    kind: RunKind,
    items: Sequence[WorkItem[Any]],
    work: RunWork[Any],
    workers: int,
    on_event: EventSink,
    cancel: threading.Event | None,
) -> RunOutcome:
    """Run ``work`` over ``items`` for the recorded run ``run_id`` and audit how it ended."""
    executor = RunExecutor(
        ctx.db, run_id, items, work, workers=workers, on_event=on_event, cancel=cancel or threading.Event()
    )
    status = executor.execute()
    with ctx.db.write() as session:
        audit(session, kind, f"run {run_id}", status)
    return RunOutcome(run_id, kind, status)


def name_list(names: Sequence[str], shown: int = 5) -> str:
    """Names for a one-line message: the first few and how many more."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"
