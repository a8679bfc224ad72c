"""Worker processes for big runs, so that their Python work uses every core.

Preparing a release (checking, inflating and hashing the artifact, writing its files) and
compiling a module (byte-compiling, zipping) are Python work that threads cannot spread over
cores: they share one interpreter lock. Big runs hand each batch to a small pool of processes
instead; the run's threads only wait for them, and the coordinator records the results as
before. Processes are started with ``spawn`` (never ``fork``: the parent may be a window with
threads of its own) and import neither Qt nor the database layer.

A batch is finished in the process that did it, flushes included: ``syncfs`` makes the whole
filesystem durable, so the run's last shared flush, made by the parent before it records the
batch, covers what the children wrote. A child exits as soon as its parent is gone, so a killed
run leaves no process behind that goes on switching modules.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from app.engine import deployer
from app.engine.artifacts import ArtifactStore
from app.engine.bundle import bundle_from_source_zip
from app.engine.compiler import CompileOutcome, PlatformSpec, build_artifact, first_failure
from app.engine.errors import DeployCenterError

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
        if processes >= 2:
            try:
                import multiprocessing
                from concurrent.futures import ProcessPoolExecutor

                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_prepare_child)
                self.processes = processes
                log.info("working in %d worker processes", processes)
            except (OSError, ImportError) as error:  # e.g. no usable /dev/shm for its locks
                log.warning("working in one process: worker processes are not available: %s", error)

    def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker process, or here; it must be a module-level function."""
        pool = self._pool
        if pool is not None:
            from concurrent.futures.process import BrokenProcessPool

            try:
                return pool.submit(function, *args).result()  # type: ignore[no-any-return]
            except (BrokenProcessPool, OSError, RuntimeError) as error:
                log.warning("worker processes stopped (%s); doing the rest in this process", error)
                self._pool, self.processes = None, 0
                pool.shutdown(wait=False, cancel_futures=True)
        return function(*args)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


class ReleaseBatches(WorkerPool):
    """Deploys batches of releases for one run."""

    def __init__(self, store: ArtifactStore, frontends: Sequence[Path], processes: int = 0) -> None:
        super().__init__(processes)
        self._store = store
        self._frontends = list(frontends)

    def deploy(self, requests: Sequence[deployer.ReleaseRequest]) -> list[str | DeployCenterError]:
        """Per request, in order, its live release id or the error that left it on its previous one."""
        return self.run(deploy_batch, str(self._store.root), [str(f) for f in self._frontends], list(requests))


class CompileBatches(WorkerPool):
    """Compiles batches of stored module versions for one platform, for one run."""

    def __init__(self, store: ArtifactStore, platform: PlatformSpec, processes: int = 0) -> None:
        super().__init__(processes)
        self._store = store
        self._platform = platform

    def compile(self, jobs: Sequence[CompileJob]) -> list[CompileOutcome | DeployCenterError]:
        """Per job, in order, how its compilation went, or the error that kept it from being tried."""
        return self.run(compile_batch, str(self._store.root), self._platform, list(jobs))


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


class PublishBatches(WorkerPool):
    """Compiles and deploys batches of newly published module versions, for one run."""

    def __init__(
        self, store: ArtifactStore, frontends: Sequence[Path], platform: PlatformSpec, processes: int = 0
    ) -> None:
        super().__init__(processes)
        self._store = store
        self._frontends = list(frontends)
        self._platform = platform

    def publish(self, jobs: Sequence[PublishJob]) -> list[PublishResult | DeployCenterError]:
        return self.run(
            publish_batch, str(self._store.root), [str(f) for f in self._frontends], self._platform, list(jobs)
        )


@dataclass(frozen=True)
class CompileJob:
    """One stored module version to compile, and how its producers' compilations went."""

    source_sha256: str
    producers: dict[str, bool | None]


def compile_batch(
    artifacts: str, platform: PlatformSpec, jobs: list[CompileJob]
) -> list[CompileOutcome | DeployCenterError]:
    """In a child process: compile these module versions; their artifacts share two flushes."""
    return compile_sources(ArtifactStore(Path(artifacts)), platform, jobs)


def compile_sources(
    store: ArtifactStore, platform: PlatformSpec, jobs: Sequence[CompileJob]
) -> list[CompileOutcome | DeployCenterError]:
    """Check and build every job, then store all the artifacts built in one go."""
    return [result for result, _defaults in _compile(store, platform, jobs)]


def _compile(
    store: ArtifactStore, platform: PlatformSpec, jobs: Sequence[CompileJob]
) -> list[tuple[CompileOutcome | DeployCenterError, Mapping[str, str]]]:
    """Per job: how its compilation went, and the module's configuration defaults."""
    results: list[tuple[CompileOutcome | DeployCenterError, Mapping[str, str]] | None] = []
    built: list[tuple[int, bytes, Mapping[str, str]]] = []
    for index, job in enumerate(jobs):
        try:
            bundle = bundle_from_source_zip(store.read(job.source_sha256))
            reason = first_failure(bundle, platform, job.producers)
            if reason is not None:
                results.append((CompileOutcome.failed(reason), bundle.manifest.config))
                continue
            built.append((index, build_artifact(bundle, platform), bundle.manifest.config))
            results.append(None)
        except DeployCenterError as error:
            results.append((error, {}))
    stored = store.put_many([artifact for _index, artifact, _defaults in built])
    for (index, artifact, defaults), sha in zip(built, stored, strict=True):
        outcome = CompileOutcome(succeeded=True, reason=None, artifact_sha256=sha, artifact_size=len(artifact))
        results[index] = (outcome, defaults)
    done = [result for result in results if result is not None]
    assert len(done) == len(jobs), "every job ends with an outcome or an error"
    return done


@dataclass(frozen=True)
class PublishJob:
    """One newly published module version: compile it and, when it compiles, make it live."""

    compile: CompileJob
    module: str
    version: int
    config_overrides: dict[str, str]


PublishResult = tuple[CompileOutcome, "str | DeployCenterError | None"]


def publish_batch(
    artifacts: str, frontends: list[str], platform: PlatformSpec, jobs: list[PublishJob]
) -> list[PublishResult | DeployCenterError]:
    """In a child process: compile these versions, then deploy those that compiled, together."""
    return publish_sources(ArtifactStore(Path(artifacts)), [Path(f) for f in frontends], platform, jobs)


def publish_sources(
    store: ArtifactStore, frontends: Sequence[Path], platform: PlatformSpec, jobs: Sequence[PublishJob]
) -> list[PublishResult | DeployCenterError]:
    """Per job: its compilation and then its release id (None when it did not compile), or the
    error that kept it from being compiled. A failed deploy keeps the compilation."""
    compiled = _compile(store, platform, [job.compile for job in jobs])
    requests: list[deployer.ReleaseRequest] = []
    deploying: list[int] = []
    for index, (job, (outcome, defaults)) in enumerate(zip(jobs, compiled, strict=True)):
        if isinstance(outcome, CompileOutcome) and outcome.succeeded:
            assert outcome.artifact_sha256 is not None
            config = deployer.effective_config(defaults, job.config_overrides)
            requests.append(
                deployer.ReleaseRequest(job.module, job.version, platform.version, outcome.artifact_sha256, config)
            )
            deploying.append(index)
    released = dict(zip(deploying, deploy_releases(store, frontends, requests), strict=True))
    results: list[PublishResult | DeployCenterError] = []
    for index, (outcome, _defaults) in enumerate(compiled):
        results.append(outcome if isinstance(outcome, DeployCenterError) else (outcome, released.get(index)))
    return results


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
