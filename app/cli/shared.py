"""What every command handler uses: exit codes, where the environment is, printing the outcome.

Light on purpose: every command module imports this while the parser is built, and ``status``
must start without the ORM.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from app.cli.streams import write
from app.engine.context import EnvironmentContext, Location
from app.engine.opening import existing

log = logging.getLogger("deploycenter")

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_CANCELLED = 130


def log_exception(exc: BaseException) -> None:
    log.error("unexpected error", exc_info=exc)


def location_of(args: argparse.Namespace) -> Location:
    return Location.from_options(getattr(args, "data_dir", None), getattr(args, "database_url", None))


def existing_environment(args: argparse.Namespace) -> AbstractContextManager[EnvironmentContext]:
    """The environment the command names, opened, checked and settled (``app.engine.opening``);
    what settling a dead run did is said on stderr (``main.RecoveryNotices``)."""
    return existing(location_of(args))


def output(args: argparse.Namespace, document: dict[str, Any], text: str) -> None:
    """Print the command's result on stdout; when no one reads it any more (``... | head``), the
    command's outcome and exit code still stand (``streams``)."""
    if args.json:
        # One line: json's C encoder does not indent, and the indenting one in Python takes
        # seconds on a plan or run of 100,000 modules.
        write(sys.stdout, json.dumps(document, default=str) + "\n")
    elif text:
        write(sys.stdout, text + "\n")


def warn(text: str) -> None:
    """One warning line on stderr, for whoever still reads it."""
    write(sys.stderr, f"deploycenter: warning: {text}\n")


def stream_out(chunks: Iterable[str]) -> None:
    """Write text to stdout as it comes (an export of any size), whatever ``--json`` says; a reader
    that went away stops the writing, not the command."""
    for chunk in chunks:
        if not write(sys.stdout, chunk):
            return


def format_table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def format_bytes(size: int) -> str:
    amount = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} bytes"


def reached(frontends: Mapping[str, str] | None) -> str:
    """Where an item went, in one cell: "all live", or each front-end's state."""
    if not frontends:
        return ""
    if set(frontends.values()) == {"live"}:
        return "all live"
    return ", ".join(f"{name} {state}" for name, state in frontends.items())
