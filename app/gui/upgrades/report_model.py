"""The Upgrades report: every run, newest first, with its counts; a running row moves live."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from app.engine.read.views import RunSummary
from app.engine.vocabulary import ItemStatus, KindTraits, RunKind
from app.gui.formatting import duration, minute, outcome_icon_name, run_outcome, timestamp
from app.gui.icons import status_icon
from app.gui.run_progress import RunProgress
from app.gui.table_model import Column, ColumnTableModel


def _count(status: ItemStatus, title: str = "", only: Callable[[KindTraits], bool] | None = None) -> Column[RunSummary]:
    """How many items of a run ended in ``status``; blank for runs whose kind never uses it."""

    def number(run: RunSummary) -> int:
        return run.counts.get(status, 0)

    def text(run: RunSummary) -> str:
        return "" if only is not None and not only(RunKind(run.kind).traits) else str(number(run))

    header = title or status.capitalize()
    return Column(header, text, sort=number, numeric=True, width=40)  # as wide as its title


class RunReportModel(ColumnTableModel[RunSummary]):
    columns = (
        Column("Run", lambda r: str(r.id), sort=lambda r: r.id, numeric=True, width=36),
        Column("Kind", lambda r: r.kind, width=68),
        Column(
            "Started",
            lambda r: minute(r.started_at),
            sort=lambda r: r.started_at,
            tooltip=lambda r: timestamp(r.started_at),
            width=86,
        ),
        Column(
            "Finished",
            lambda r: minute(r.finished_at),
            sort=lambda r: r.finished_at or r.started_at,
            tooltip=lambda r: timestamp(r.finished_at),
            width=86,
        ),
        Column("Duration", lambda r: duration(r.seconds), sort=lambda r: r.seconds or 0.0, numeric=True, width=64),
        Column(
            "Status",
            lambda r: run_outcome(r.kind, r.status, r.counts, brief=True),
            icon=lambda r: status_icon(outcome_icon_name(r.kind, r.status, r.counts)),
            tooltip=lambda r: r.message or run_outcome(r.kind, r.status, r.counts),
            width=140,
        ),
        _count(ItemStatus.DEPLOYED),
        _count(ItemStatus.PREPARED, only=lambda traits: traits.prepares),
        _count(ItemStatus.FAILED),
        _count(ItemStatus.BLOCKED),
        _count(ItemStatus.SKIPPED),
        Column("Started by", lambda r: r.started_by, width=64),  # the last column: it takes the room left
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
