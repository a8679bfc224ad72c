"""A run in its own process that stops for good in the middle of writing a release, to be killed -9.

Usage: python -m tests.faults.stalled_run DATA_DIR MARKER KIND STALL_AT

KIND is ``deploy-all`` or ``stage``; the run goes one module at a time. On each front-end, the
STALL_AT-th staging step stops once its files are written (the release under its staging name,
the next ``CURRENT`` and ``config.json`` under temp names) and before anything is renamed into
place: it appends the front-end to MARKER and waits for ever. The steps before it run to the end,
so the modules of the earlier batches are deployed (or, for a stage run, staged) as usual. The
test reads MARKER, then kills this process with SIGKILL: nothing is slowed down or faked, the
process only stops where a crash could stop it.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.engine import operations
from app.engine.context import Location, open_context
from app.engine.frontend.local.module_folder import ModuleFolder
from app.engine.frontend.ssh.target import SshTarget

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
                with marker.open("a") as out:
                    out.write(frontend + "\n")
        if stall:
            threading.Event().wait()  # until the test kills the process
        return step(self, *args)

    return call


def main() -> int:
    data_dir, marker, kind, stall_at = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    # Local: renaming a staged release into place. SSH: the renames after the tar stream.
    ModuleFolder.place = stalling(ModuleFolder.place, lambda f: str(f.frontend), marker, stall_at)  # type: ignore[method-assign]
    SshTarget._finish_stage = stalling(SshTarget._finish_stage, lambda t: t.location, marker, stall_at)  # type: ignore[method-assign]
    ctx = open_context(Location(data_dir))
    if kind == "stage":
        operations.stage_all(ctx, workers=1)
    else:
        operations.deploy_all(ctx, workers=1)
    ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
