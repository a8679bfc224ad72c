"""The product's words for runs, items and modules, as one typed vocabulary.

Every value is a ``StrEnum``: it is stored, printed and written to JSON as the contract's string
(``ItemStatus.DEPLOYED == "deployed"``), so the database, the command line and the window all
speak the same words while the code gets names a type checker can follow.
"""

from __future__ import annotations

from enum import StrEnum


class RunKind(StrEnum):
    """What a run does (contract, sections 1 and 8)."""

    PUBLISH = "publish"
    UPGRADE = "upgrade"
    DEPLOY_ALL = "deploy-all"
    DEPLOY = "deploy"
    STAGE = "stage"
    ROLLBACK = "rollback"
    PUBLISH_SOLUTION = "publish-solution"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # finished with errors
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # its process died; found and closed by another


class ItemStatus(StrEnum):
    """Where one module of a run stands. ``PREPARED`` is an upgrade's success, ``STAGED`` a stage run's."""

    PENDING = "pending"
    DEPLOYING = "deploying"
    DEPLOYED = "deployed"
    PREPARED = "prepared"
    STAGED = "staged"
    FAILED = "failed"
    BLOCKED = "blocked"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class ModuleState(StrEnum):
    """A module's state in the current platform version, as ``modules`` and the Modules pane show it."""

    DEPLOYED = "deployed"
    READY = "ready"
    COMPILATION_FAILED = "compilation-failed"
    NOT_PREPARED = "not-prepared"


class SkipReason(StrEnum):
    """Why a deploy run skips a module (rule 2) or rolls one back no further (section 8.1)."""

    COMPILATION_FAILED = "compilation-failed"
    ALREADY_DEPLOYED = "already-deployed"
    NOT_PREPARED = "not-prepared"
    CHANGED_SINCE = "changed-since"
    NO_PREVIOUS_RELEASE = "no-previous-release"


# Only one of these runs at a time per environment (rule 5).
EXCLUSIVE_KINDS = frozenset({RunKind.DEPLOY_ALL, RunKind.UPGRADE})
# An item in one of these statuses is done: it will not change again in its run.
FINISHED_ITEM_STATUSES = frozenset(
    {
        ItemStatus.DEPLOYED,
        ItemStatus.PREPARED,
        ItemStatus.STAGED,
        ItemStatus.FAILED,
        ItemStatus.BLOCKED,
        ItemStatus.SKIPPED,
        ItemStatus.CANCELLED,
    }
)
# Items whose module did not end where the run meant it to: a run with any ends ``failed``.
UNSUCCESSFUL_ITEM_STATUSES = frozenset({ItemStatus.FAILED, ItemStatus.BLOCKED})
