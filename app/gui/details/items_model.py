"""The Deployment Details table: one row per module of the shown run, updated as it moves."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from app.engine.vocabulary import ItemStatus
from app.gui.formatting import UNTIMED, clock, duration, item_status_text, status_label
from app.gui.icons import status_icon
from app.gui.run_progress import PROBLEMS, ItemRow, RunProgress
from app.gui.table_model import Column, ColumnTableModel, Index

# Sorting by status puts what needs attention first: what deploys now, then failures before the
# modules they blocked, then what is still to come, and what went well last.
STATUS_ORDER: dict[str, int] = {
    status: rank
    for rank, status in enumerate(
        (
            ItemStatus.DEPLOYING,
            ItemStatus.FAILED,
            ItemStatus.BLOCKED,
            ItemStatus.PENDING,
            ItemStatus.CANCELLED,
            ItemStatus.DEPLOYED,
            ItemStatus.PREPARED,
            ItemStatus.STAGED,
            ItemStatus.SKIPPED,
        )
    )
}


def _took(row: ItemRow) -> str:
    return "" if row.status in UNTIMED else duration(row.seconds)


class RunItemsModel(ColumnTableModel[ItemRow]):
    columns = (
        Column("Module", lambda r: r.module, width=160),
        Column("Application", lambda r: r.application, width=100),
        Column(
            "Version",
            lambda r: "" if r.version is None else str(r.version),
            sort=lambda r: r.version or 0,
            numeric=True,
            width=56,
        ),
        Column(
            "Status",
            lambda r: status_label(r.status),
            icon=lambda r: status_icon(r.status),
            sort=lambda r: STATUS_ORDER.get(r.status, len(STATUS_ORDER)),
            width=136,  # "Rolled back to v12" and its icon
        ),
        Column(
            "Started",
            lambda r: clock(r.started_at),
            sort=lambda r: r.started_at.timestamp() if r.started_at else 0.0,
            width=70,
        ),
        Column("Duration", _took, sort=lambda r: r.seconds or 0.0, numeric=True, width=70),
        Column("Message", lambda r: r.detail, tooltip=lambda r: r.detail, width=264),
    )

    @staticmethod
    def filter_key(row: ItemRow) -> str:
        kind = "problem" if row.status in PROBLEMS else row.status
        return f"{kind}\t{row.module}\t{row.application}\t{row.detail}"

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self.kind = ""  # the shown run's kind: a rollback's rows say which version they went back to
        self._status = self.column_index("Status")

    def show(self, progress: RunProgress | None) -> None:
        """Show another run; its rows are shared with ``progress``, which updates them in place."""
        self.kind = progress.kind if progress is not None else ""
        self.set_rows(progress.rows if progress is not None else [])

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        shown = role == Qt.ItemDataRole.DisplayRole and index.isValid() and index.row() < len(self.rows)
        if shown and index.column() == self._status:
            row = self.rows[index.row()]
            return item_status_text(self.kind, row.status, row.version)
        return super().data(index, role)
