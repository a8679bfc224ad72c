"""A separate process that runs Deploy All and holds it open, for cross-process tests.

Usage: python -m tests.holder DATA_DIR MARKER [--workers N]
The database is the data dir's SQLite file, or DEPLOYCENTER_DATABASE_URL when that is set.
After the run's first finished module it writes MARKER (with its pid) and waits until the file
MARKER.go exists; the test then probes the environment from another process, or kills this one.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from app.engine import operations
from app.engine.context import Location, open_context
from app.engine.events import Event, ItemFinished


def main() -> int:
    data_dir, marker = Path(sys.argv[1]), Path(sys.argv[2])
    workers = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    go = marker.with_name(marker.name + ".go")
    ctx = open_context(Location.from_options(str(data_dir), None))

    def sink(event: Event) -> None:
        if isinstance(event, ItemFinished) and not marker.exists():
            marker.write_text(str(__import__("os").getpid()))
            while not go.exists():
                time.sleep(0.02)

    outcome = operations.deploy_all(ctx, workers=workers, on_event=sink)
    print(outcome.status)
    ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
