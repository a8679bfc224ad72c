"""What a run cost: its batches, its worker processes, and per front-end the connections,
sessions, scripts (round trips), syncs and bytes its targets used, from every process of the run.

Printed with a run command's ``--json`` (``stats`` in the run document) and read by the benchmarks,
so that a run whose round trips grow with its modules is seen, not guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.engine.frontend.target import TargetStats


@dataclass(frozen=True)
class RunStats:
    batches: int = 0  # handed to the run's workers
    worker_processes: int = 0  # started for the run's file work; 0: all of it in the run's process
    frontends: Mapping[str, TargetStats] = field(default_factory=dict)  # by front-end name

    def to_json(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "worker_processes": self.worker_processes,
            "frontends": {name: stats.to_json() for name, stats in sorted(self.frontends.items())},
        }


def added(parts: Iterable[Mapping[str, TargetStats]]) -> dict[str, TargetStats]:
    """The figures of several processes (or moments) summed, front-end by front-end."""
    total: dict[str, TargetStats] = {}
    for part in parts:
        for name, stats in part.items():
            total[name] = total.get(name, TargetStats()) + stats
    return total


def since(before: Mapping[str, TargetStats], now: Mapping[str, TargetStats]) -> dict[str, TargetStats]:
    """What each front-end's targets cost between two readings of the same process."""
    return {name: stats - before.get(name, TargetStats()) for name, stats in now.items()}
