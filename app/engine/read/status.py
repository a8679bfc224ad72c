"""What ``status`` shows, as plain frozen values: built by ``views.status`` from the ORM, or read
straight from an SQLite file by ``quick_status`` (no SQLAlchemy, for a fast command)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.engine.control.now import ChangeControlState
from app.engine.frontend.registry import Frontend
from app.engine.identity import iso
from app.engine.vocabulary import ModuleState


@dataclass(frozen=True)
class ActiveRun:
    id: int
    kind: str
    started_by: str
    started_at: datetime
    done: int
    total: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "started_by": self.started_by,
            "started_at": iso(self.started_at),
            "done": self.done,
            "total": self.total,
        }


@dataclass(frozen=True)
class Status:
    name: str
    platform_version: str
    frontends: tuple[Frontend, ...]
    upgrade_from: str | None
    upgrade_to: str | None
    total: int
    ready: int
    compilation_failed: int
    deployed: int
    not_prepared: int
    active_runs: tuple[ActiveRun, ...]
    database: str
    staged: int = 0  # ready modules whose release a stage run left on the front-ends (rules.md#stage)
    change_control: ChangeControlState | None = None  # may a change start now, and if not, when

    @property
    def active_run(self) -> ActiveRun | None:
        return self.active_runs[0] if self.active_runs else None

    @property
    def fully_upgraded(self) -> bool:
        """Rule 8: nothing left to deploy and nothing failed."""
        return self.ready == 0 and self.compilation_failed == 0 and self.not_prepared == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.name,
            "platform_version": self.platform_version,
            "frontends": [
                {"name": fe.name, "path": fe.location, "kind": fe.kind, "enabled": fe.enabled} for fe in self.frontends
            ],
            # Front-ends a run drained and did not undrain (it died, or its undrain failed): the next
            # changing command undrains them.
            "drained": [{"name": fe.name, "run": fe.drained_by} for fe in self.frontends if fe.drained_by is not None],
            "active_run": self.active_run.to_json() if self.active_run else None,
            "active_runs": [run.to_json() for run in self.active_runs],
            "upgrade": (
                {"from": self.upgrade_from, "to": self.upgrade_to, "complete": self.fully_upgraded}
                if self.upgrade_to
                else None
            ),
            "fully_upgraded": self.fully_upgraded,
            "counts": {
                "modules": self.total,
                "ready": self.ready,
                "compilation_failed": self.compilation_failed,
                "deployed": self.deployed,
                "not_prepared": self.not_prepared,
                "staged": self.staged,
            },
            "database": self.database,
            "change_control": self.change_control.to_json() if self.change_control else None,
        }


def state_counts(total: int, prepared: int, failed: int | None, deployed: int | None) -> Counter[str]:
    """Live modules per state from the sums the status query takes: of ``total`` modules,
    ``prepared`` have a compilation for the current platform, ``failed`` of those failed and
    ``deployed`` are live in it; the rest of the prepared ones are ready."""
    failed, deployed = int(failed or 0), int(deployed or 0)  # SUM of no rows is NULL
    return Counter(
        {
            ModuleState.NOT_PREPARED: total - prepared,
            ModuleState.COMPILATION_FAILED: failed,
            ModuleState.DEPLOYED: deployed,
            ModuleState.READY: prepared - failed - deployed,
        }
    )
