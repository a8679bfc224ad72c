"""Worker processes for big runs, so that their Python work uses every core.

Preparing a release (checking, inflating and hashing the artifact, writing its files) and
compiling a module (byte-compiling, zipping) are Python work that threads cannot spread over
cores: they share one interpreter lock. Big runs hand each batch to a small pool of processes
instead; the run's threads only wait for them, and the coordinator records the results as
before. Processes are started with ``spawn`` (never ``fork``: the parent may be a window with
threads of its own) and import neither Qt nor the database layer.

Each run kind has a module-level batch function a child runs (``kinds.deploy.deploy_batch``,
...). A batch is finished in the process that did it, flushes included: ``syncfs`` makes the whole
filesystem durable, so the run's last shared flush, made by the parent before it records the
batch, covers what the children wrote. A child exits as soon as its parent is gone, so a killed
run leaves no process behind that goes on switching modules.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from app.engine.frontend.registry import shared_stats
from app.engine.frontend.target import TargetStats
from app.engine.runs.stats import added

log = logging.getLogger(__name__)
T = TypeVar("T")

# A run of fewer modules than this stays in its own process: starting the pool (about 0.1-0.3 s)
# would cost more than it saves.
MIN_MODULES = 200
MAX_PROCESSES = 8
ENV_PROCESSES = "DEPLOYCENTER_PROCESSES"  # how many processes big runs may use; 0 or 1: none


def process_count(modules: int) -> int:
    """How many processes a run of ``modules`` modules should use; 0 for none."""
    configured = os.environ.get(ENV_PROCESSES, "").strip()
    if configured:
        try:
            wanted = int(configured)
        except ValueError:
            wanted = 0  # a value we cannot read must not change how deploys run
    else:
        wanted = min(MAX_PROCESSES, os.cpu_count() or 1)
    if wanted < 2 or modules < MIN_MODULES:
        return 0
    return wanted


class WorkerPool:
    """The processes of one run; runs each batch in one of them, or here when there are none.

    A pool that cannot start, or breaks (a child killed, say), is given up for the rest of the
    run, with a warning, and the batch that was in it is done here again. That is safe: a batch
    only ever does what can be done twice (a release already placed or switched by the lost
    child is found and reused; an artifact already stored is stored again whole).
    """

    def __init__(self, processes: int = 0) -> None:
        self._pool: Any = None  # a ProcessPoolExecutor; imported only when used (every command pays imports)
        self.processes = 0
        self.started = 0  # processes started for the run, for its statistics
        self._counted: dict[int, dict[str, TargetStats]] = {}  # by child pid: what its targets cost so far
        if processes >= 2:
            try:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_prepare_child)
                self.processes = self.started = processes
                log.info("working in %d worker processes", processes)
            except (OSError, ImportError) as error:  # e.g. no usable /dev/shm for its locks
                log.warning("working in one process: worker processes are not available: %s", error)

    def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker process, or here; it must be a module-level function."""
        pool = self._pool
        if pool is not None:
            from concurrent.futures.process import BrokenProcessPool

            try:
                result, pid, counted = pool.submit(_counted, function, *args).result()
                self._counted[pid] = counted
                return result  # type: ignore[no-any-return]
            except (BrokenProcessPool, OSError, RuntimeError) as error:
                log.warning("worker processes stopped (%s); doing the rest in this process", error)
                self._pool, self.processes = None, 0
                pool.shutdown(wait=False, cancel_futures=True)
        return function(*args)

    def stats(self) -> dict[str, TargetStats]:
        """What the targets of every child have cost, by front-end name (as of each one's last batch)."""
        return added(self._counted.values())

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _counted(function: Callable[..., T], *args: Any) -> tuple[T, int, dict[str, TargetStats]]:
    """In a child: ``function(*args)``, with what this process's targets have cost so far."""
    result = function(*args)
    return result, os.getpid(), shared_stats()


def _prepare_child() -> None:
    """In each child: leave Ctrl-C to the run, and exit at once when the run's process is gone.

    An orphan would otherwise finish its batch, switching modules the dead run never records.
    multiprocessing gives every spawned child a sentinel of its parent (a pipe the parent holds
    open on POSIX, its process handle on Windows) that becomes ready when the parent dies; a
    thread waits on it. Linux's parent-death signal would follow the thread that spawned the
    child instead, and run threads end before the run does.
    """
    # Ctrl-C in a terminal reaches the whole process group; the run's own process handles it
    # (cancel: finish what is in hand), so a child must not die of it halfway through a batch.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from multiprocessing import parent_process
    from multiprocessing.connection import wait

    parent = parent_process()
    if parent is None:  # not started by multiprocessing: nobody to follow
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
