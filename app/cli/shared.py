"""What every command handler uses: exit codes, where the environment is, printing the outcome.

Light on purpose: ``status`` imports this and not ``commands``, which brings the ORM.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from app.engine.context import Location

log = logging.getLogger("deploycenter")

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_CANCELLED = 130


def log_exception(exc: BaseException) -> None:
    log.error("unexpected error", exc_info=exc)


def location_of(args: argparse.Namespace) -> Location:
    return Location.from_options(getattr(args, "data_dir", None), getattr(args, "database_url", None))


def output(args: argparse.Namespace, document: dict[str, Any], text: str) -> None:
    try:
        if args.json:
            # One line: json's C encoder does not indent, and the indenting one in Python takes
            # seconds on a plan or run of 100,000 modules.
            print(json.dumps(document, default=str), flush=True)
        elif text:
            print(text, flush=True)
    except BrokenPipeError:
        # The reader went away (`... | head`): the command's outcome and exit code still stand.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
