"""The Upgrades report: every run, newest first, with its counts; a running row moves live."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from app.engine.views import RunSummary
from app.gui.formatting import duration, status_label, timestamp
from app.gui.icons import status_icon
from app.gui.run_progress import RunProgress
from app.gui.table_model import Column, ColumnTableModel


def _count(status: str) -> Column[RunSummary]:
    def text(run: RunSummary) -> str:
        n = run.counts.get(status, 0) + (run.counts.get("prepared", 0) if status == "deployed" else 0)
        return str(n)
    return Column(status.capitalize(), text, sort=lambda r: int(text(r)), numeric=True, width=62,
                  tooltip=lambda r: "prepared (compiled) for the new platform version"
                  if status == "deployed" and r.kind == "upgrade" else "")


class RunReportModel(ColumnTableModel[RunSummary]):
    columns = (
        Column("Run", lambda r: str(r.id), sort=lambda r: r.id, numeric=True, width=50),
        Column("Kind", lambda r: r.kind, width=80),
        Column("Started", lambda r: timestamp(r.started_at), width=135),
        Column("Finished", lambda r: timestamp(r.finished_at), width=135),
        Column("Duration", lambda r: duration(r.seconds), sort=lambda r: r.seconds or 0.0, numeric=True, width=70),
        Column("Status", lambda r: status_label(r.status), icon=lambda r: status_icon(r.status),
               tooltip=lambda r: r.message or "", width=100),
        _count("deployed"), _count("failed"), _count("blocked"), _count("skipped"),
        Column("Started by", lambda r: r.started_by, width=120),
    )

    def load(self, runs: Sequence[RunSummary]) -> None:
        if [r.id for r in runs] == [r.id for r in self.rows]:
            changed = [n for n, (old, new) in enumerate(zip(self.rows, runs, strict=True)) if old != new]
            self.rows = list(runs)
            self.rows_changed(changed)
        else:
            self.set_rows(list(runs))

    def row_of(self, run_id: int) -> int | None:
        return next((n for n, r in enumerate(self.rows) if r.id == run_id), None)

    def follow(self, progress: RunProgress) -> None:
        """Counts of a run in progress, between two reloads."""
        number = self.row_of(progress.run_id)
        if number is None:
            return
        counts = {status: progress.counts.get(status, 0) for status in self.rows[number].counts}
        counts.update(progress.counts)
        self.rows[number] = replace(self.rows[number], counts=counts, status=progress.status)
        self.rows_changed([number])
