"""What a saved plan says about one module a run works on: the payloads of the run kinds say it.

Light on purpose (no database, no front-end code): the payloads live in modules that worker
processes import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from app.engine.config import config_bytes

DEPLOY = "deploy"  # make this release live
RECOMPILE = "recompile"  # compile the stored source again, then make what it builds live
SKIP = "skip"  # left as it is, for the item's reason


@dataclass(frozen=True)
class PlanEntry:
    """The action on one module and, when known before the run, the release ``CURRENT`` will name."""

    action: str
    release: str | None
    artifact_sha256: str | None
    config_sha256: str | None


@runtime_checkable
class PlannedPayload(Protocol):
    """A run item's payload that can say what it will do, for a saved plan."""

    def plan_entry(self) -> PlanEntry: ...


def config_sha256(config: Mapping[str, str]) -> str:
    """The sha256 of the ``config.json`` these values make."""
    return hashlib.sha256(config_bytes(config)).hexdigest()
