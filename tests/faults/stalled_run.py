"""A run in its own process that stops for good in the middle of writing a release, to be killed -9.

Usage: python -m tests.faults.stalled_run DATA_DIR MARKER KIND STALL_AT

KIND is ``deploy-all`` or ``stage``; the run goes one module at a time (an SSH front-end, fed
big batches, is fed one module per batch here). On each front-end, the STALL_AT-th staging step
stops once its files are written (the release under its staging name, the next ``CURRENT`` and
``config.json`` under temp names) and before anything is renamed into place: it appends the
front-end to MARKER and waits for ever. Over SSH that is the tar stream sent but for its end: the
remote ``tar`` has unpacked every member and waits for the rest, and renames come after it.
The steps before it run to the end, so the modules of the earlier batches are deployed (or, for
a stage run, staged) as usual. The test reads MARKER, then kills this process with SIGKILL:
nothing is faked, the process only stops where a crash could stop it.
"""

from __future__ import annotations

import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.engine import operations
from app.engine.context import Location, open_context
from app.engine.frontend.feeding import Feeding
from app.engine.frontend.local.module_folder import ModuleFolder
from app.engine.frontend.ssh import shell, tar_stream
from app.engine.frontend.ssh.kind import SshKind
from app.engine.frontend.ssh.target import SshTarget
from app.engine.runs.executor import FLUSH_INTERVAL

_counts: dict[str, int] = {}
_lock = threading.Lock()


def stalling(step: Callable[..., Any], where: Callable[[Any], str], marker: Path, stall_at: int) -> Callable[..., Any]:
    """``step``, stopping for good on its ``stall_at``-th call for one front-end."""

    def call(self: Any, *args: Any) -> Any:
        frontend = where(self)
        with _lock:
            _counts[frontend] = _counts.get(frontend, 0) + 1
            stall = _counts[frontend] == stall_at
        if stall:
            time.sleep(4 * FLUSH_INTERVAL)  # the run records the batches before this one
            with _lock, marker.open("a") as out:
                out.write(frontend + "\n")
            threading.Event().wait()  # until the test kills the process
        return step(self, *args)

    return call


def stalling_tar(step: Callable[..., Iterator[bytes]], marker: Path, stall_at: int) -> Callable[..., Iterator[bytes]]:
    """``SshTarget._tar_of``, whose ``stall_at``-th stream stops inside its last member.

    ``tar`` reads its stdin in whole records, so the remote side unpacks the rest once the kill
    ends the connection: it finds the archive cut short and fails, and nothing is renamed.
    """

    def call(self: SshTarget, *args: Any) -> Iterator[bytes]:
        with _lock:
            _counts[self.location] = _counts.get(self.location, 0) + 1
            stall = _counts[self.location] == stall_at
        parts = step(self, *args)
        if not stall:
            yield from parts
            return
        held = next(parts)
        for part in parts:
            if part != tar_stream.tar_end():
                yield held
                held = part
                continue
            yield held[: tarfile.BLOCKSIZE]  # the last member's header, without its content
            time.sleep(4 * FLUSH_INTERVAL)  # the run records the batches before this one
            with _lock, marker.open("a") as out:
                out.write(self.location + "\n")
            threading.Event().wait()  # until the test kills the process

    return call


def main() -> int:
    data_dir, marker, kind, stall_at = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    # Local: renaming a staged release into place. SSH: the renames after the tar stream.
    ModuleFolder.place = stalling(ModuleFolder.place, lambda f: str(f.frontend), marker, stall_at)  # type: ignore[method-assign]
    SshTarget._tar_of = stalling_tar(SshTarget._tar_of, marker, stall_at)  # type: ignore[method-assign]
    # Each part on the wire as soon as it is made, so that the stall holds back only the end.
    shell.coalesced = lambda parts, size=0: iter(parts)  # type: ignore[attr-defined]
    SshKind.feeding = Feeding(batch=1, spread=1, worker_processes=False, durable_per_batch=True)
    ctx = open_context(Location(data_dir))
    if kind == "stage":
        operations.stage_all(ctx, workers=1)
    else:
        operations.deploy_all(ctx, workers=1)
    ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
