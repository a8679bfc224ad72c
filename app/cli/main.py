"""The unattended front-end: parse the command line, run one operation, map the outcome to an exit code."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from app.cli import (
    audit_commands,
    change_control_commands,
    frontend_commands,
    metrics_commands,
    policy_commands,
    run_commands,
    view_commands,
    webhook_commands,
)
from app.cli.parsing import ArgumentError, CancelSignal, CommandSet, Parser, global_options
from app.cli.shared import log_exception
from app.cli.streams import reserve_standard_fds, write
from app.engine.errors import DeployCenterError, RefusedError
from app.logsetup import configure_logging

# Each adds its commands to the parser (``parsing.CommandSet``); a new group of commands is a
# module with a ``register`` function, named here.
COMMAND_MODULES = (
    run_commands,
    view_commands,
    frontend_commands,
    audit_commands,
    metrics_commands,
    webhook_commands,
    policy_commands,
    change_control_commands,
)


def build_parser() -> Parser:
    parser = Parser(
        prog="deploycenter --unattended",
        description="Run Deploy Center without a window, for scripts and CI/CD.",
        epilog="Exit codes: 0 done, 1 some modules failed or were blocked, 2 bad usage or input, "
        "3 refused by an active run, a lock or change control, 4 not possible in this state, 130 cancelled.",
    )
    global_options(parser, suppress=False)
    commands = CommandSet(parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser))
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


RECOVERY_LOGGER = "app.engine.kinds.recovery"  # and its children: what the user is told on stderr
CANCELLING_NOTE = b"\ncancelling: waiting for modules already deploying (Ctrl-C again to stop now)\n"


@contextmanager
def ctrl_c_cancels(cancel: CancelSignal) -> Iterator[None]:
    """First Ctrl-C asks the run to stop after what is deploying; a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: Any) -> None:
        if cancel.by_ctrl_c:
            raise KeyboardInterrupt
        cancel.by_ctrl_c = True
        cancel.set()
        # os.write, not print: the signal may arrive while this thread is inside a print.
        try:
            os.write(sys.stderr.fileno(), CANCELLING_NOTE)
        except (OSError, ValueError):
            pass

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class RecoveryNotices(logging.Handler):
    """Says on stderr what a command did before its own work: a dead run settled, a front-end undrained."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"deploycenter: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass  # stderr closed: the log file still has it


def say_recoveries() -> None:
    recovery = logging.getLogger(RECOVERY_LOGGER)
    if not any(isinstance(handler, RecoveryNotices) for handler in recovery.handlers):
        recovery.addHandler(RecoveryNotices(logging.WARNING))


def run_cli(argv: Sequence[str]) -> int:
    reserve_standard_fds()  # before any file is opened: none may take a closed stdout's number
    configure_logging()  # unexpected errors keep their traceback in the user log dir
    say_recoveries()
    wants_json = "--json" in argv
    try:
        args = build_parser().parse_args(list(argv))
        if args.command is None:
            raise ArgumentError("a COMMAND is required (see deploycenter --unattended --help)")
        cancel = CancelSignal()
        with ctrl_c_cancels(cancel):
            return int(args.handler(args, cancel))
    except RefusedError as error:
        extra: dict[str, Any] = {"refusal": str(error.refusal)}
        if error.details:
            extra["details"] = list(error.details)
        return report_error(error.message, error.exit_code, wants_json, extra)
    except DeployCenterError as error:
        return report_error(error.message, error.exit_code, wants_json)
    except KeyboardInterrupt:
        return report_error("interrupted", 130, wants_json)
    except OSError as exc:
        log_exception(exc)
        if exc.errno in _NOT_WRITABLE:  # a folder or file this user may not change
            where = exc.filename or "a file"
            return report_error(
                f"cannot write {where}: {exc.strerror}; make it writable by this user or choose another folder",
                4,
                wants_json,
            )
        return report_error(internal_error_line(exc), 1, wants_json)
    except Exception as exc:  # never a traceback on the terminal; the log keeps the details
        log_exception(exc)
        return report_error(internal_error_line(exc), 1, wants_json)


_NOT_WRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def internal_error_line(exc: BaseException) -> str:
    """One line for a bug: the first line of its message (SQLAlchemy appends the SQL and a link)."""
    text = str(exc).strip()
    return f"internal error: {type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def report_error(message: str, code: int, wants_json: bool, extra: dict[str, Any] | None = None) -> int:
    """One line on stderr; with ``--json`` also the error document (a refusal names its kind)."""
    write(sys.stderr, f"deploycenter: error: {message}\n")
    if wants_json:
        write(sys.stdout, json.dumps({"error": message, "exit_code": code, **(extra or {})}) + "\n")
    return code
