"""The Upgrades report: every run, newest first, with its counts; a running row moves live."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from app.engine.read.views import RunSummary
from app.engine.vocabulary import ItemStatus, RunKind
from app.gui.formatting import count_text, duration, minute, outcome_icon_name, run_outcome, timestamp
from app.gui.icons import status_icon
from app.gui.run_progress import RunProgress, compile_failures
from app.gui.table_model import Column, ColumnTableModel


def _succeeded(run: RunSummary) -> int:
    return run.counts.get(RunKind(run.kind).traits.success, 0)


# What an item went through when all went well, by what the run's kind does with it.
SUCCESS_TIPS: dict[str, str] = {
    ItemStatus.DEPLOYED: "made live on every enabled front-end",
    ItemStatus.PREPARED: "compiled for the new platform version, not deployed",
    ItemStatus.STAGED: "written to every enabled front-end, not switched",
}


def _done_text(run: RunSummary) -> str:
    """The count, and the word for runs that make nothing live (an upgrade prepares, a stage stages)."""
    status = RunKind(run.kind).traits.success
    return count_text(_succeeded(run)) + (f" {status}" if status != ItemStatus.DEPLOYED else "")


def _done_tip(run: RunSummary) -> str:
    status = RunKind(run.kind).traits.success
    return f"{count_text(_succeeded(run))} {status}: {SUCCESS_TIPS[status]}"


def _count(status: ItemStatus) -> Column[RunSummary]:
    """How many items of a run ended in ``status``."""

    def count_of(run: RunSummary) -> int:
        return run.counts.get(status, 0)

    return Column(status.capitalize(), lambda run: count_text(count_of(run)), sort=count_of, numeric=True, width=40)


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
            lambda r: run_outcome(r.kind, r.status, r.counts, brief=True, compile_failed=r.compile_failed),
            icon=lambda r: status_icon(outcome_icon_name(r.kind, r.status, r.counts)),
            tooltip=lambda r: r.message or run_outcome(r.kind, r.status, r.counts, compile_failed=r.compile_failed),
            width=150,  # "10 did not compile" and its icon
        ),
        # One column for what each kind does when all goes well: deployed, prepared or staged.
        Column("Done", _done_text, sort=_succeeded, tooltip=_done_tip, numeric=True, width=100),
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
        self.rows[number] = replace(
            self.rows[number], counts=counts, status=progress.status, compile_failed=compile_failures(progress)
        )
        self.rows_changed([number])
