"""Deploying batches of releases in worker processes, so a big Deploy All uses every core.

Preparing a release is Python work (checking, inflating and hashing the artifact, writing its
files) that threads cannot spread over cores: they share one interpreter lock. For big runs the
deploy work hands each batch to a small pool of processes instead; the run's threads only wait
for them, and the coordinator records the results as before. Processes are started with
``spawn`` (never ``fork``: the parent may be a window with threads of its own) and import only
the deployer, not the database layer.

A batch is finished in the process that prepared it, flushes included: ``syncfs`` makes the
whole filesystem durable, so the run's last shared flush, made by the parent before it records
the batch, covers the switches the children made. A child exits as soon as its parent is gone,
so a killed run leaves no process behind that goes on switching modules.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.engine import deployer
from app.engine.artifacts import ArtifactStore
from app.engine.errors import DeployCenterError

log = logging.getLogger(__name__)

# A run deploying fewer modules than this stays in its own process: starting the pool (about
# 0.1-0.3 s) would cost more than it saves.
MIN_MODULES = 200
MAX_PROCESSES = 8
ENV_PROCESSES = "DEPLOYCENTER_PROCESSES"  # how many processes big runs may use; 0 or 1: none
WATCH_INTERVAL = 0.05  # how often a child checks that the run's process is still there


def process_count(modules: int) -> int:
    """How many processes a run deploying ``modules`` modules should use; 0 for none."""
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


class ReleaseBatches:
    """Deploys batches of releases for one run: in worker processes when it has them, else here.

    A pool that cannot start, or breaks (a child killed, say), is given up for the rest of the
    run, with a warning; the batch that was in it is deployed here again, which is safe: a
    release already placed or switched by the lost child is found and reused.
    """

    def __init__(self, store: ArtifactStore, frontends: Sequence[Path], processes: int = 0) -> None:
        self._store = store
        self._frontends = list(frontends)
        self._pool: Any = None  # a ProcessPoolExecutor; imported only when used (every command pays imports)
        self.processes = 0
        if processes >= 2:
            try:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_die_with_parent)
                self.processes = processes
                log.info("deploying in %d worker processes", processes)
            except (OSError, ImportError) as error:  # e.g. no usable /dev/shm for its locks
                log.warning("deploying in one process: worker processes are not available: %s", error)

    def deploy(self, requests: Sequence[deployer.ReleaseRequest]) -> list[str | DeployCenterError]:
        """Per request, in order, its live release id or the error that left it on its previous one."""
        pool = self._pool
        if pool is not None:
            from concurrent.futures.process import BrokenProcessPool

            try:
                return pool.submit(
                    deploy_batch, str(self._store.root), [str(f) for f in self._frontends], list(requests)
                ).result()
            except (BrokenProcessPool, OSError, RuntimeError) as error:
                log.warning("worker processes stopped (%s); deploying the rest in this process", error)
                self._pool, self.processes = None, 0
                pool.shutdown(wait=False, cancel_futures=True)
        return deploy_releases(self._store, self._frontends, requests)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def deploy_batch(
    artifacts: str, frontends: list[str], requests: list[deployer.ReleaseRequest]
) -> list[str | DeployCenterError]:
    """In a child process: deploy these releases together; per request, its release id or its error."""
    return deploy_releases(ArtifactStore(Path(artifacts)), [Path(f) for f in frontends], requests)


def deploy_releases(
    store: ArtifactStore, frontends: Sequence[Path], requests: Sequence[deployer.ReleaseRequest]
) -> list[str | DeployCenterError]:
    """Prepare every release, then finish them together (one shared flush per step).

    The switches' flush is left to the caller, which makes it once before recording the batch.
    """
    results: list[str | DeployCenterError | None] = [None] * len(requests)
    prepared: list[tuple[int, deployer.PreparedRelease]] = []
    try:
        for index, request in enumerate(requests):
            try:
                artifact = store.read(request.artifact_sha256)
                prepared.append((index, deployer.prepare_release(frontends, request, artifact)))
            except DeployCenterError as error:
                results[index] = error
    except BaseException:
        for _index, release in prepared:
            release.abandon()
        raise
    finished = deployer.finish_releases([release for _index, release in prepared], flush_switch=False)
    for (index, _release), outcome in zip(prepared, finished, strict=True):
        results[index] = outcome
    done = [result for result in results if result is not None]
    assert len(done) == len(requests), "every request ends with a release id or an error"
    return done


def _die_with_parent() -> None:
    """In each child: exit at once when the run's process is gone, whatever the child is doing.

    An orphan would otherwise finish its batch, switching modules the dead run never records.
    On Linux and macOS an orphan's parent id changes, which a thread can watch; Linux's
    parent-death signal would follow the thread that spawned the child instead, and run threads
    end before the run does. On Windows the id does not change: there a child stops once its
    batch is done and it finds the pool's pipe closed.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
