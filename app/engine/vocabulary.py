"""The product's words for runs, items and modules, as one typed vocabulary.

Every value is a ``StrEnum``: it is stored, printed and written to JSON as the contract's string
(``ItemStatus.DEPLOYED == "deployed"``), so the database, the command line and the window all
speak the same words while the code gets names a type checker can follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RunKind(StrEnum):
    """What a run does. Each kind's traits are in ``KIND_TRAITS``: ``RunKind.DEPLOY.traits.switches``."""

    PUBLISH = "publish"
    UPGRADE = "upgrade"
    DEPLOY_ALL = "deploy-all"
    DEPLOY = "deploy"
    STAGE = "stage"
    ROLLBACK = "rollback"
    PUBLISH_SOLUTION = "publish-solution"

    @property
    def traits(self) -> KindTraits:
        return KIND_TRAITS[self]


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
    """Why a deploy run skips a module (rules.md#deploy-all) or rolls one back no further (rules.md#rollback)."""

    COMPILATION_FAILED = "compilation-failed"
    ALREADY_DEPLOYED = "already-deployed"
    NOT_PREPARED = "not-prepared"
    CHANGED_SINCE = "changed-since"
    NO_PREVIOUS_RELEASE = "no-previous-release"


@dataclass(frozen=True)
class KindTraits:
    """What a kind of run is, for every part that must treat kinds apart: the engine (locks,
    recovery, change control), the command line and the window read these, never a list of kinds
    of their own. Adding a kind is its file in ``app/engine/kinds/`` and one entry below."""

    label: str  # how people read the kind: "Deploy All", "Rollback"
    switches: bool  # makes releases live on the front-ends, so a dead run of it is reconciled
    stages: bool  # writes releases to the front-ends (every switching kind does, and stage runs)
    exclusive: bool  # one at a time per environment, and not beside runs that hold its modules
    runs_alone: bool  # nothing else starts while it runs (it moves the whole environment)
    compiles: bool  # its items compile modules: a failed one is fixed by a new compilation
    prepares: bool  # its successes are compilations made ready, never deployments
    deploys_prepared: bool  # makes live what was prepared for the platform: "Deploy again" retries it
    rolls_back: bool  # a run of this kind can be rolled back: it made releases live
    rolling: bool  # can switch one front-end at a time (``--rolling``)
    planned: bool  # change control: runs from a saved plan, approved when approvals are required

    @property
    def success(self) -> ItemStatus:
        """What an item of this kind ends as when all goes well."""
        if self.prepares:
            return ItemStatus.PREPARED
        return ItemStatus.STAGED if self.stages and not self.switches else ItemStatus.DEPLOYED


KIND_TRAITS: dict[RunKind, KindTraits] = {
    RunKind.PUBLISH: KindTraits(
        "Publish",
        switches=True,
        stages=True,
        exclusive=False,
        runs_alone=False,
        compiles=True,
        prepares=False,
        deploys_prepared=False,
        rolls_back=True,
        rolling=False,
        planned=False,
    ),
    RunKind.UPGRADE: KindTraits(
        "Upgrade",
        switches=False,
        stages=False,
        exclusive=True,
        runs_alone=True,
        compiles=True,
        prepares=True,
        deploys_prepared=False,
        rolls_back=False,
        rolling=False,
        planned=False,
    ),
    RunKind.DEPLOY_ALL: KindTraits(
        "Deploy All",
        switches=True,
        stages=True,
        exclusive=True,
        runs_alone=False,
        compiles=False,
        prepares=False,
        deploys_prepared=True,
        rolls_back=True,
        rolling=True,
        planned=True,
    ),
    RunKind.DEPLOY: KindTraits(
        "Deploy",
        switches=True,
        stages=True,
        exclusive=False,
        runs_alone=False,
        compiles=False,
        prepares=False,
        deploys_prepared=True,
        rolls_back=True,
        rolling=True,
        planned=True,
    ),
    RunKind.STAGE: KindTraits(
        "Stage",
        switches=False,
        stages=True,
        exclusive=False,
        runs_alone=False,
        compiles=False,
        prepares=False,
        deploys_prepared=False,
        rolls_back=False,
        rolling=False,
        planned=False,
    ),
    RunKind.ROLLBACK: KindTraits(
        "Rollback",
        switches=True,
        stages=True,
        exclusive=False,
        runs_alone=False,
        compiles=False,
        prepares=False,
        deploys_prepared=False,
        rolls_back=True,
        rolling=True,
        planned=True,
    ),
    RunKind.PUBLISH_SOLUTION: KindTraits(
        "Publish solution",
        switches=True,
        stages=True,
        exclusive=False,
        runs_alone=False,
        compiles=True,
        prepares=False,
        deploys_prepared=False,
        rolls_back=True,
        rolling=True,
        planned=True,
    ),
}

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
