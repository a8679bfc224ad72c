"""Errors the engine raises on purpose, each with the exit code the command line maps it to.

Anything else escaping the engine is a bug; front-ends show these errors' one-line message as is.
"""

from __future__ import annotations


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


class RefusedError(DeployCenterError):
    """Refused because an active run or a lock holds what the operation needs.

    ``run_id`` names that run when there is one: a window drops the refusal once the run ends.
    """

    exit_code = 3

    def __init__(self, message: str, *, run_id: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class StateError(DeployCenterError):
    """Not possible in the environment's state, e.g. there is no environment yet."""

    exit_code = 4


class CancelledError(DeployCenterError):
    """The user interrupted the command (Ctrl-C)."""

    exit_code = 130
