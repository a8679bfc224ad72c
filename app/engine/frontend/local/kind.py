"""The local kind of front-end: a folder on this machine, given as a path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from app.engine.errors import BadInputError
from app.engine.frontend.feeding import Feeding

if TYPE_CHECKING:
    from app.engine.frontend.target import FrontendTarget


class LocalKind:
    """``FrontendDriver`` of a folder on this machine."""

    scheme = None
    remote = False
    # Batches of up to 64, four per worker: a batch's fixed cost is two shared disk flushes (64
    # against 16: 5 % less wall time for 2,000 small modules, bench/RESULTS.md), and the file
    # work is Python that worker processes spread over the cores. The run's coordinator makes
    # the switches of several batches durable with one flush.
    feeding = Feeding(batch=64, spread=4, worker_processes=True, durable_per_batch=False)

    def parse(self, text: str) -> str:
        """An absolute path: a relative one is read from where the command runs."""
        if not text.strip():
            raise BadInputError("front-end target is empty; give a folder or an ssh:// target")
        return str(Path(text).expanduser().absolute())

    def key(self, location: str) -> str:
        return os.path.realpath(location)

    def label(self, location: str) -> str:
        return Path(location).name

    def check(self, location: str) -> None:
        path = Path(location)
        if path.exists() and not path.is_dir():
            raise BadInputError(f"front-end {location} is a file, not a folder")

    def prepare(self, location: str) -> None:
        Path(location).mkdir(parents=True, exist_ok=True)

    def open(self, name: str, location: str) -> FrontendTarget:
        from app.engine.frontend.local.target import LocalTarget  # here: status needs no file machinery

        return LocalTarget(name, location)
