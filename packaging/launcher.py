"""The frozen bundle's entry script: the same ``main`` as the ``deploycenter`` console script."""

import multiprocessing
import sys

from app.__main__ import main

if __name__ == "__main__":
    # A big Deploy All starts worker processes by running this program again; let them run.
    multiprocessing.freeze_support()
    sys.exit(main())
