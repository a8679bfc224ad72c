"""``deploycenter`` without ``--unattended``: options, checks, logging (``app.logsetup``), then the window.

Qt is imported only after the checks, so a machine without a display or without Qt's system
libraries gets one line on stderr and exit code 4 instead of a core dump or a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from app.gui import preflight

NOT_POSSIBLE = 4  # the contract's exit code for "not possible in this state"
BAD_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(message)


def parse_options(args: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and the rest for Qt (e.g. ``-style fusion``)."""
    parser = _Parser(prog="deploycenter", add_help=False)
    parser.add_argument("--data-dir", metavar="DIR")
    parser.add_argument("--database-url", metavar="URL")
    return parser.parse_known_args(list(args))


def run_gui(args: Sequence[str]) -> int:
    if any(arg in ("-h", "--help") for arg in args):
        print(
            "usage: deploycenter [--data-dir DIR] [--database-url URL]\n"
            "       deploycenter --unattended COMMAND ...   (see 'deploycenter --unattended --help')"
        )
        return 0
    try:
        options, qt_args = parse_options(args)
    except ValueError as error:
        print(f"deploycenter: {error}", file=sys.stderr)
        return BAD_USAGE
    problem = preflight.display_problem(os.environ) or preflight.qt_import_problem()
    if problem:
        print(f"deploycenter: {problem}", file=sys.stderr)
        return NOT_POSSIBLE
    from app.logsetup import configure_logging

    log_path = configure_logging()
    logging.getLogger(__name__).info("opening the window; log file %s", log_path)
    from app.gui.application import run_application
    from app.gui.settings import remembered_location

    location = remembered_location(options.data_dir, options.database_url)
    return run_application(location, ["deploycenter", *qt_args])
