"""A separate process that appends audit entries, for the tests of two writers at once.

Usage: python -m tests.audit_writer DATABASE_URL NAME COUNT START_FILE
Waits until START_FILE exists (so that both writers begin together), then appends COUNT entries,
each in its own writer transaction, exactly as the commands do.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from app.engine.audit import audit
from app.engine.store.database import Database


def main() -> int:
    url, name, count, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    db = Database(url)
    try:
        deadline = time.monotonic() + 60
        while not start.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        for number in range(count):
            with db.write() as session:
                audit(session, "test-append", name, "done", f"entry {number} of {name}")
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
