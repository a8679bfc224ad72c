"""A small real environment for engine tests: temp data dir, real front-end folders, real bundles."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Unpack

from app.engine import operations
from app.engine.context import EnvironmentContext, Location
from app.engine.events import Event, ItemFinished
from tests.bundles import BundleOptions, write_bundle


@dataclass
class Kit:
    root: Path
    ctx: EnvironmentContext
    frontends: list[Path]
    bundles: Path = field(init=False)

    def __post_init__(self) -> None:
        self.bundles = self.root / "bundles"
        self.bundles.mkdir(exist_ok=True)

    def bundle(self, name: str, **options: Unpack[BundleOptions]) -> Path:
        return write_bundle(self.bundles, name, **options)

    def publish(self, *paths: Path) -> operations.RunOutcome:
        return operations.publish(self.ctx, list(paths))

    def current(self, module: str, frontend: int = 0) -> str | None:
        path = self.frontends[frontend] / module / "CURRENT"
        return path.read_text().strip() if path.exists() else None


def make_kit(root: Path, frontends: int = 1, platform: str = "11.18.1", database_url: str | None = None) -> Kit:
    """``database_url`` None keeps the default SQLite file in the data dir."""
    folders = [root / f"fe{i + 1}" for i in range(frontends)]
    ctx = operations.init_environment(
        Location(root / "env", database_url), platform=platform, frontends=[str(f) for f in folders]
    )
    return Kit(root, ctx, folders)


class HeldRun:
    """Runs an operation in a thread and holds it open after its first finished item.

    The coordinator blocks inside the event sink, so the run stays active (with its locks) until
    ``release()``; nothing is slowed artificially, the test decides when the run may go on.
    """

    def __init__(self, operation: Callable[[Callable[[Event], None]], operations.RunOutcome]) -> None:
        self.held = threading.Event()
        self._go = threading.Event()
        self.events: list[Event] = []
        self.outcome: operations.RunOutcome | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(operation,), daemon=True)

    def _sink(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, ItemFinished) and not self.held.is_set():
            self.held.set()
            self._go.wait(60)

    def _run(self, operation: Callable[[Callable[[Event], None]], operations.RunOutcome]) -> None:
        try:
            self.outcome = operation(self._sink)
        except BaseException as exc:
            self.error = exc
            self.held.set()

    def start(self) -> HeldRun:
        self._thread.start()
        assert self.held.wait(60), "the run never finished an item"
        if self.error:
            raise self.error
        return self

    def release(self) -> operations.RunOutcome:
        self._go.set()
        self._thread.join(60)
        assert not self._thread.is_alive()
        if self.error:
            raise self.error
        assert self.outcome is not None
        return self.outcome


@contextmanager
def held(operation: Callable[[Callable[[Event], None]], operations.RunOutcome]) -> Iterator[HeldRun]:
    run = HeldRun(operation).start()
    try:
        yield run
    finally:
        run.release()
