"""Everything the panes show about the environment, read in one go on a worker thread."""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.context import EnvironmentContext
from app.engine.read import views


@dataclass(frozen=True)
class Snapshot:
    status: views.Status
    modules: tuple[views.ModuleView, ...]
    runs: tuple[views.RunSummary, ...]


def load_snapshot(ctx: EnvironmentContext) -> Snapshot:
    """No Qt: runs on a job thread so that 10,000 modules never stall the window."""
    return Snapshot(views.status(ctx), tuple(views.modules(ctx)), tuple(views.run_summaries(ctx)))
