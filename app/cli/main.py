"""The unattended front-end: parse the command line, run one operation, map the outcome to an exit code."""

from __future__ import annotations

import argparse
import errno
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from app.cli import status_command
from app.cli.shared import log_exception
from app.engine.errors import BadInputError, DeployCenterError
from app.logsetup import configure_logging


class ArgumentError(BadInputError):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one error line (and JSON when asked) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(f"{self.prog}: {message}")


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--data-dir", metavar="DIR", default=default, help="environment folder (env DEPLOYCENTER_DATA_DIR)"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default=default,
        help="SQLAlchemy URL of the database (env DEPLOYCENTER_DATABASE_URL)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print exactly one JSON document on stdout",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def command_handler(name: str) -> Callable[..., int]:
    """A handler of ``commands``, imported when it runs: ``status`` starts without the ORM it brings."""

    def handler(args: argparse.Namespace, cancel: threading.Event) -> int:
        from app.cli import commands

        return int(getattr(commands, name)(args, cancel))

    return handler


def frontend_command(name: str) -> Callable[..., int]:
    """A ``frontend`` action's handler, imported when it runs: other commands start without it."""

    def handler(args: argparse.Namespace, cancel: threading.Event) -> int:
        from app.cli import frontend_commands

        return int(getattr(frontend_commands, name)(args, cancel))

    return handler


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


ROLLING_HELP = "stage everywhere, then switch one front-end at a time, each followed by its health check"


def build_parser() -> Parser:
    parser = Parser(
        prog="deploycenter --unattended",
        description="Run Deploy Center without a window, for scripts and CI/CD.",
        epilog="Exit codes: 0 done, 1 some modules failed or were blocked, 2 bad usage or input, "
        "3 refused by an active run or a lock, 4 not possible in this state, 130 cancelled.",
    )
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def command(name: str, help_text: str, handler: Callable[..., int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _global_options(p, suppress=True)
        p.set_defaults(handler=handler)
        return p

    p = command("init", "create the environment", command_handler("init"))
    p.add_argument("--platform", metavar="V", help="platform version (default 11.18.1)")
    p.add_argument(
        "--frontend",
        metavar="TARGET",
        action="append",
        default=[],
        help="front-end: a folder or ssh://[user@]host[:port]/path (repeatable)",
    )
    p.add_argument("--name", help="environment name shown in the window title")
    p.add_argument("--demo", action="store_true", help="also publish the bundled sample modules")

    p = command("publish", "publish module bundles (folders or .zip): compile and deploy", command_handler("publish"))
    p.add_argument("bundles", nargs="+", metavar="BUNDLE")
    p.add_argument("--workers", type=positive_int, metavar="N")

    p = command("upgrade", "move to a platform version and prepare every module for it", command_handler("upgrade"))
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="V", help="catalog version to move to")
    target.add_argument(
        "--current", action="store_true", help="prepare again what failed or is missing for the current version"
    )
    p.add_argument("--workers", type=positive_int, metavar="N")

    p = command("deploy-all", "deploy every prepared module that is not live yet", command_handler("deploy_all"))
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument(
        "--stage",
        action="store_true",
        help="write every planned release to every front-end and switch nothing (a later deploy-all switches)",
    )
    p.add_argument("--rolling", action="store_true", help=ROLLING_HELP)
    p.add_argument("--workers", type=positive_int, metavar="N", help="modules deployed in parallel (default: CPUs)")

    p = command("deploy", "deploy chosen modules or an application", command_handler("deploy"))
    p.add_argument("modules", nargs="*", metavar="MODULE")
    p.add_argument("--app", metavar="APP", help="every module of this application")
    p.add_argument("--rolling", action="store_true", help=ROLLING_HELP)
    p.add_argument("--workers", type=positive_int, metavar="N")

    p = command(
        "rollback",
        "make live again the releases live before a run, or one release back for modules",
        command_handler("rollback"),
    )
    p.add_argument("targets", nargs="*", metavar="RUN | MODULE", help="a run id, or module names")
    p.add_argument("--app", metavar="APP", help="every module of this application, one release back")
    p.add_argument("--rolling", action="store_true", help=ROLLING_HELP)
    p.add_argument("--workers", type=positive_int, metavar="N")

    p = command(
        "publish-solution",
        "recompile from the stored sources and deploy, even what is already deployed",
        command_handler("publish_solution"),
    )
    p.add_argument("modules", nargs="*", metavar="MODULE", help="default: every module")
    p.add_argument("--app", metavar="APP", help="every module of this application")
    p.add_argument("--rolling", action="store_true", help=ROLLING_HELP)
    p.add_argument("--workers", type=positive_int, metavar="N")

    p = command("prune", "remove old releases from every front-end", command_handler("prune"))
    p.add_argument(
        "--keep",
        type=non_negative_int,
        metavar="N",
        help="older releases kept per module beside the live, previous and staged ones (default 3); "
        "stored for the environment",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be removed and the bytes freed")

    p = command(
        "apply-config", "change configuration values and write them to the front-ends", command_handler("apply_config")
    )
    p.add_argument("module", metavar="MODULE")
    p.add_argument("values", nargs="+", metavar="KEY=VALUE")

    p = command("delete", "remove a module from the environment and the front-ends", command_handler("delete"))
    p.add_argument("module", metavar="MODULE")

    p = command("cancel", "ask the active run to stop", command_handler("cancel"))
    p.add_argument("run", nargs="?", type=positive_int, metavar="RUN")

    command("status", "platform version, front-ends, counts and the active run", status_command.status)
    command("modules", "every module and its state", command_handler("modules"))
    command("runs", "the history of runs", command_handler("runs"))
    p = command("run", "one run with its items", command_handler("run"))
    p.add_argument("run", type=positive_int, metavar="RUN")
    command("verify", "check every front-end against the artifacts", command_handler("verify"))
    frontend = sub.add_parser(
        "frontend",
        help="list, add, remove, disable or enable front-ends",
        description="Manage the environment's front-ends.",
    )
    _global_options(frontend, suppress=True)
    actions = frontend.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser, required=True)

    def action(name: str, help_text: str, handler: Callable[..., int]) -> argparse.ArgumentParser:
        p = actions.add_parser(name, help=help_text, description=help_text)
        _global_options(p, suppress=True)
        p.set_defaults(handler=handler)
        return p

    p = action("list", "every front-end with its kind and whether it is enabled", frontend_command("list_frontends"))
    p.add_argument(
        "--check",
        action="store_true",
        help="also reach each one and count the modules that run what is recorded (exit 1 when not)",
    )
    p = action("add", "add a front-end; the next Deploy All brings it up to date", frontend_command("add"))
    p.add_argument("name", metavar="NAME")
    p.add_argument("target", metavar="TARGET", help="a folder, or ssh://[user@]host[:port]/absolute/path")
    p.add_argument("--health-cmd", metavar="CMD", help="run after a rolling switch of this front-end; must exit 0")
    p.add_argument("--adopt", action="store_true", help="take it over from an environment that owns it")
    p = action("remove", "forget a front-end (its files stay)", frontend_command("remove"))
    p.add_argument("name", metavar="NAME")
    p = action("disable", "take a front-end out of every run", frontend_command("disable"))
    p.add_argument("name", metavar="NAME")
    p = action("enable", "bring a front-end back into runs", frontend_command("enable"))
    p.add_argument("name", metavar="NAME")
    p = action("adopt", "take over a front-end stamped by another environment", frontend_command("adopt"))
    p.add_argument("name", metavar="NAME")

    p = command("audit", "who did what and when, newest first", command_handler("audit"))
    p.add_argument("--limit", type=positive_int, default=50, metavar="N")
    return parser


CANCELLING_NOTE = b"\ncancelling: waiting for modules already deploying (Ctrl-C again to stop now)\n"


class CancelSignal(threading.Event):
    """The run's cancel flag, remembering whether Ctrl-C (rather than another process) set it."""

    def __init__(self) -> None:
        super().__init__()
        self.by_ctrl_c = False


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


def run_cli(argv: Sequence[str]) -> int:
    configure_logging()  # unexpected errors keep their traceback in the user log dir
    wants_json = "--json" in argv
    try:
        args = build_parser().parse_args(list(argv))
        if args.command is None:
            raise ArgumentError("a COMMAND is required (see deploycenter --unattended --help)")
        cancel = CancelSignal()
        with ctrl_c_cancels(cancel):
            return int(args.handler(args, cancel))
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


def report_error(message: str, code: int, wants_json: bool) -> int:
    print(f"deploycenter: error: {message}", file=sys.stderr, flush=True)
    if wants_json:
        print(json.dumps({"error": message, "exit_code": code}), flush=True)
    return code
