"""Sorting and filtering in front of the table models: a text filter plus one choice per table.

The Modules table filters its own way (``ModuleFilter``): the model matches its rows in one Python
pass, so a keystroke costs milliseconds at 100,000 modules. The smaller run tables go through
Qt's own regular-expression path over a FILTER_ROLE key the models provide, not a Python
``filterAcceptsRow``: with no filter set Qt then accepts every row without calling Python at
all, which keeps resets and big updates of 10,000-row tables cheap.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
)

from app.gui.modules.model import ANY_STATE, DRIFT, IN_A_RUN, ModuleEntry, ModulesModel
from app.gui.table_model import FILTER_ROLE, ROW_FLAGS, SORT_ROLE, Index

__all__ = ["ANY_STATE", "DRIFT", "IN_A_RUN", "ModuleFilter", "RunItemFilter"]

ANY_FIELD = "[^\t]*"
# Above this many rows joining or leaving at once, one layout change is cheaper for the view
# than a signal per run of rows.
MOST_ROW_SIGNALS = 100
# Filtering or sorting moves (or drops) whole rows: told so, a selection model keeps one persistent
# index per selected row instead of one per selected cell.
ROWS_MOVE = QAbstractTableModel.LayoutChangeHint.VerticalSortHint
LAYOUT_SIGNATURE = "QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint"  # the overload with a hint


class ModuleFilter(QAbstractTableModel):
    """The Modules model's rows that match a text and a state, in the model's order.

    Not a QSortFilterProxyModel: that one asks Python for a key per row and per keystroke (most
    of a second at 100,000 modules; bench/gui_modules.py). This one keeps the numbers of the
    matching rows, which ``ModulesModel.matching`` finds in one pass; the model sorts itself.
    Not a QAbstractProxyModel either: its ``index`` and ``parent`` would be Python, and Qt calls
    them many times for each selected cell whenever rows move.

    A row whose state or lock changes joins or leaves at once, as the Qt proxy's dynamic filter
    did: with "Held by an active run" chosen, the rows a run holds come and go with the run.
    """

    def __init__(self, model: ModulesModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = model
        self._text = ""
        self._state = ANY_STATE
        self._shown = model.matching("")  # the model's numbers of the rows shown, ascending
        self._sorting: list[tuple[QModelIndex, QPersistentModelIndex]] = []
        model.modelAboutToBeReset.connect(self.beginResetModel)
        model.modelReset.connect(self._end_reset)
        model.layoutAboutToBeChanged.connect(self._begin_sort)
        model.layoutChanged.connect(self._end_sort)
        model.dataChanged.connect(self._on_data_changed)

    def set_text(self, text: str) -> None:
        self._text = text.strip()
        self._refilter()

    def set_state(self, state: str) -> None:
        """A state of the model's, IN_A_RUN, or ANY_STATE."""
        self._state = state
        self._refilter()

    def entry(self, row: int) -> ModuleEntry:
        return self.source.rows[self._shown[row]]

    def mapToSource(self, index: Index) -> QModelIndex:
        if not index.isValid() or index.row() >= len(self._shown):
            return QModelIndex()
        return self.source.index(self._shown[index.row()], index.column())

    def mapFromSource(self, source_index: Index) -> QModelIndex:
        if not source_index.isValid():
            return QModelIndex()
        return self._index_of(source_index.row(), source_index.column())

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.source.sort(column, order)  # the model sorts (one key per row); this follows its layout change

    # -- following the model ------------------------------------------------------------------

    def _index_of(self, number: int, column: int) -> QModelIndex:
        """Where the model's row ``number`` is shown; invalid when it is filtered out."""
        row = bisect_left(self._shown, number)
        return self.index(row, column) if row < len(self._shown) and self._shown[row] == number else QModelIndex()

    def _refilter(self) -> None:
        """The same rows of the model, another filter: persistent indexes follow their rows."""
        _with_hint(self.layoutAboutToBeChanged).emit([], ROWS_MOVE)
        before = self._shown
        self._shown = self.source.matching(self._text, self._state)
        old = self.persistentIndexList()
        self.changePersistentIndexList(old, [self._index_of(before[i.row()], i.column()) for i in old])
        _with_hint(self.layoutChanged).emit([], ROWS_MOVE)

    def _begin_sort(self) -> None:
        _with_hint(self.layoutAboutToBeChanged).emit([], ROWS_MOVE)
        self._sorting = [(i, QPersistentModelIndex(self.mapToSource(i))) for i in self.persistentIndexList()]

    def _end_sort(self) -> None:
        self._shown = self.source.matching(self._text, self._state)
        old, new = [i for i, _ in self._sorting], [self.mapFromSource(s) for _, s in self._sorting]
        self.changePersistentIndexList(old, new)
        self._sorting = []
        _with_hint(self.layoutChanged).emit([], ROWS_MOVE)

    def _end_reset(self) -> None:
        self._shown = self.source.matching(self._text, self._state)
        self.endResetModel()

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        first, last = top_left.row(), bottom_right.row()
        begin, end = bisect_left(self._shown, first), bisect_right(self._shown, last)
        now = self.source.matching(self._text, self._state, first, last)
        if now != self._shown[begin:end] and not self._replace(begin, end, now):
            return
        if now:
            self.dataChanged.emit(
                self.index(begin, top_left.column()), self.index(begin + len(now) - 1, bottom_right.column())
            )

    def _replace(self, begin: int, end: int, now: list[int]) -> bool:
        """Rows ``begin`` to ``end - 1`` become ``now``; rows that stay keep their selection.

        False when the rows were filtered again as a whole (too many changes): nothing left to do.
        """
        before = self._shown[begin:end]
        staying = set(now) & set(before)
        leaving = [begin + n for n, number in enumerate(before) if number not in staying]
        joining = [number for number in now if number not in staying]
        if len(leaving) + len(joining) > MOST_ROW_SIGNALS:
            self._refilter()
            return False
        for first, last in reversed(list(_runs(leaving))):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._shown[first : last + 1]
            self.endRemoveRows()
        places = [(at, list(numbers)) for at, numbers in groupby(joining, lambda n: bisect_left(self._shown, n))]
        for at, numbers in reversed(places):
            self.beginInsertRows(QModelIndex(), at, at + len(numbers) - 1)
            self._shown[at:at] = numbers
            self.endInsertRows()
        return True

    # -- QAbstractTableModel ------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's own default
        return 0 if parent.isValid() else len(self._shown)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.source.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        return self.source.data(self.mapToSource(index), role)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            return self.source.headerData(section, orientation, role)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags


def _runs(numbers: list[int]) -> Iterator[tuple[int, int]]:
    """First and last of each run of consecutive numbers, in order."""
    for _, run in groupby(enumerate(numbers), lambda pair: pair[1] - pair[0]):
        members = [number for _, number in run]
        yield members[0], members[-1]


class _KeyFilter(QSortFilterProxyModel):
    """Rows whose FILTER_ROLE key (tab-separated choice fields, then searchable text) matches."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(FILTER_ROLE)
        self._text = ""

    def set_text(self, text: str) -> None:
        self._text = text.strip()
        self._apply()

    def _choices(self) -> list[str]:
        """One pattern per leading field of the key; ANY_FIELD when not filtered."""
        raise NotImplementedError

    def _apply(self) -> None:
        choices = self._choices()
        if not self._text and all(choice == ANY_FIELD for choice in choices):
            pattern = ""  # Qt accepts every row without asking the model
        else:
            pattern = "^" + "".join(f"{choice}\t" for choice in choices) + ".*" + re.escape(self._text)
        expression = QRegularExpression(pattern, QRegularExpression.PatternOption.CaseInsensitiveOption)
        self.setFilterRegularExpression(expression)


class RunItemFilter(_KeyFilter):
    """Text matches module, application or message; ``problems_only`` keeps failed and blocked."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._problems_only = False

    def set_problems_only(self, on: bool) -> None:
        self._problems_only = on
        self._apply()

    def _choices(self) -> list[str]:
        return ["problem" if self._problems_only else ANY_FIELD]


def _with_hint(signal: Any) -> Any:
    """The overload of a layout signal that takes the parents and a hint; PySide6's stubs do not
    describe indexing a signal by its signature, so the lookup is made untyped here."""
    return signal[LAYOUT_SIGNATURE]
