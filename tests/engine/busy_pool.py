"""Usage: python -m tests.engine.busy_pool

Starts a process pool with the deploy processes' initializer, gives its child an hour-long task,
prints the child's pid and waits: a test kills this process and watches the child.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

from app.engine.runs.pool import _prepare_child


def main() -> int:
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_prepare_child)
    child = pool.submit(os.getpid).result(timeout=60)
    pool.submit(time.sleep, 3600)  # busy: it will not read the pool's queue and notice on its own
    print(child, flush=True)
    time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
