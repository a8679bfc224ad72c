"""What the three table models share: named columns, and updates of changed rows only."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QIcon

Row = TypeVar("Row")
Index = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole
FILTER_ROLE = Qt.ItemDataRole.UserRole + 1  # one string per row that the filter proxies match
ALIGN_NUMBER = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
# Every row of every table: computed once, since Qt asks for each selected cell when rows move.
ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren


@dataclass(frozen=True)
class Column(Generic[Row]):
    title: str
    text: Callable[[Row], str]
    sort: Callable[[Row], Any] | None = None  # a comparable value; the text when None
    icon: Callable[[Row], QIcon] | None = None
    tooltip: Callable[[Row], str] | None = None
    numeric: bool = False
    width: int = 100


class ColumnTableModel(QAbstractTableModel, Generic[Row]):
    columns: tuple[Column[Row], ...] = ()

    @staticmethod
    def filter_key(row: Row) -> str:
        """Tab-separated fields the filter proxies match; see ``filters``."""
        return ""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[Row] = []

    def column_index(self, title: str) -> int:
        return next(n for n, column in enumerate(self.columns) if column.title == title)

    def set_rows(self, rows: list[Row]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rows_changed(self, numbers: Iterable[int]) -> None:
        """One ``dataChanged`` per run of consecutive rows, so views repaint only those."""
        last_column = len(self.columns) - 1
        for first, last in _ranges(sorted(set(numbers))):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))

    # -- QAbstractTableModel --------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own default
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        column = self.columns[index.column()]
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == SORT_ROLE:
            return column.sort(row) if column.sort else column.text(row)
        if role == FILTER_ROLE:
            return self.filter_key(row)
        if role == Qt.ItemDataRole.DecorationRole and column.icon:
            return column.icon(row)
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip:
            return column.tooltip(row) or None
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(ALIGN_NUMBER.value)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        horizontal = orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
        if horizontal and 0 <= section < len(self.columns):
            return self.columns[section].title
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags


def _ranges(numbers: list[int]) -> Iterable[tuple[int, int]]:
    if not numbers:
        return
    first = last = numbers[0]
    for number in numbers[1:]:
        if number != last + 1:
            yield first, last
            first = number
        last = number
    yield first, last
