"""The frozen bundle's entry script: the same ``main`` as the ``deploycenter`` console script."""

import sys

from app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
