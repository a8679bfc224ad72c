"""What a saved plan says about one module a run works on: the payloads of the run kinds say it.

Light on purpose (no database, no front-end code): the payloads live in modules that worker
processes import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

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


class PlannedPayload(Protocol):
    """A run item's payload that can say what it will do, for a saved plan."""

    def plan_entry(self) -> PlanEntry: ...


def config_sha256(config: Mapping[str, str]) -> str:
    """The sha256 of the ``config.json`` these values make (``config.config_bytes``).

    A configuration is a flat map of strings, so its file is spelled here with json's C string
    encoder: the same bytes as the indenting encoder, which is pure Python and was most of the
    time of saving a plan of 10,000 modules.
    """
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in config.items()):
        return hashlib.sha256(config_bytes(config)).hexdigest()
    if not config:
        return _EMPTY
    lines = ",\n".join(f"  {_string(key)}: {_string(config[key])}" for key in sorted(config))
    return hashlib.sha256(f"{{\n{lines}\n}}\n".encode()).hexdigest()


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


_EMPTY = hashlib.sha256(config_bytes({})).hexdigest()
