"""The Deployment Details table: one row per module of the shown run, updated as it moves."""

from __future__ import annotations

from app.gui.formatting import clock, duration, status_label
from app.gui.icons import status_icon
from app.gui.run_progress import PROBLEMS, ItemRow, RunProgress
from app.gui.table_model import Column, ColumnTableModel


class RunItemsModel(ColumnTableModel[ItemRow]):
    columns = (
        Column("Module", lambda r: r.module, width=170),
        Column("Application", lambda r: r.application, width=110),
        Column("Version", lambda r: "" if r.version is None else str(r.version), sort=lambda r: r.version or 0,
               numeric=True, width=60),
        Column("Status", lambda r: status_label(r.status), icon=lambda r: status_icon(r.status), width=110),
        Column("Started", lambda r: clock(r.started_at),
               sort=lambda r: r.started_at.timestamp() if r.started_at else 0.0, width=75),
        Column("Duration", lambda r: duration(r.seconds), sort=lambda r: r.seconds or 0.0, numeric=True, width=75),
        Column("Message", lambda r: r.detail, tooltip=lambda r: r.detail, width=400),
    )

    @staticmethod
    def filter_key(row: ItemRow) -> str:
        kind = "problem" if row.status in PROBLEMS else row.status
        return f"{kind}\t{row.module}\t{row.application}\t{row.detail}"

    def show(self, progress: RunProgress | None) -> None:
        """Show another run; its rows are shared with ``progress``, which updates them in place."""
        self.set_rows(progress.rows if progress is not None else [])
