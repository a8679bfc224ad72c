"""The command line's grammar: one parser, global options everywhere, and a typed table of commands.

Each command module (``run_commands``, ``view_commands``, ``frontend_commands``, ...) has a
``register(commands)`` that adds its commands with ``CommandSet.command``, naming its handler
functions directly, so a type checker follows every command to the code it runs. Command modules
keep their top-level imports light and import the engine inside their handlers: building the
parser must not load the ORM that ``status`` does without.
"""

from __future__ import annotations

import argparse
import math
import threading
from collections.abc import Callable
from typing import NoReturn

from app.engine.errors import BadInputError


class ArgumentError(BadInputError):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one error line (and JSON when asked) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(f"{self.prog}: {message}")


class CancelSignal(threading.Event):
    """The run's cancel flag, remembering whether Ctrl-C (rather than another process) set it."""

    def __init__(self) -> None:
        super().__init__()
        self.by_ctrl_c = False


Handler = Callable[[argparse.Namespace, CancelSignal], int]


def global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, before or after its name."""
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


class CommandSet:
    """The commands at one level of the command line: top-level ones, or a group's actions."""

    def __init__(self, subparsers: argparse._SubParsersAction[Parser]) -> None:
        self._sub = subparsers

    def command(self, name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        parser = self._sub.add_parser(name, help=help_text, description=help_text)
        global_options(parser, suppress=True)
        parser.set_defaults(handler=handler)
        return parser

    def group(self, name: str, help_text: str, description: str) -> CommandSet:
        """A command with actions of its own (``frontend add``, ``window list``)."""
        parser = self._sub.add_parser(name, help=help_text, description=description)
        global_options(parser, suppress=True)
        actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser, required=True)
        return CommandSet(actions)


def positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def seconds(text: str) -> float:
    """A number of seconds, 0 or more (fractions allowed); what is above 0 is for the engine to say."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got '{text}'") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, got '{text}'")
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
