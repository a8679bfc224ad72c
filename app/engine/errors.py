"""Errors the engine raises on purpose, each with the exit code the command line maps it to.

Anything else escaping the engine is a bug; front-ends show these errors' one-line message as is.
"""

from __future__ import annotations

from enum import StrEnum


class DeployCenterError(Exception):
    """Base of the errors a user can cause; ``exit_code`` follows the contract's table."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadInputError(DeployCenterError):
    """Bad usage or bad input: an unknown module, a malformed bundle, a downgrade."""

    exit_code = 2


class BundleError(BadInputError):
    """A module bundle that cannot be published: nothing of it is stored."""


class Refusal(StrEnum):
    """Why an operation was refused: a CI job retries a lock and stops on the others."""

    LOCK = "lock"  # another run holds a module, or another process holds the database
    ACTIVE_RUN = "active-run"  # a run that must run alone is active, or this one must
    STALE_PLAN = "stale-plan"  # the environment changed since the saved plan was made
    APPROVALS = "approvals"  # the plan lacks approvals, or an approval is not allowed
    WINDOW = "window"  # outside every change window
    FREEZE = "freeze"  # inside a change freeze


class RefusedError(DeployCenterError):
    """Refused because of an active run, a lock or change control; ``refusal`` says which, and
    ``details`` lists what the one-line message had to shorten (each change of a stale plan).

    ``run_id`` names the run that holds what was asked for, when there is one: a window drops the
    refusal once that run ends.
    """

    exit_code = 3

    def __init__(
        self, message: str, refusal: Refusal, details: tuple[str, ...] = (), *, run_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.details = details
        self.run_id = run_id


class StateError(DeployCenterError):
    """Not possible in the environment's state, e.g. there is no environment yet."""

    exit_code = 4
