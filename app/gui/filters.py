"""Sorting and filtering in front of the table models: a text filter plus one choice per table."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
)

from app.gui.modules_model import ModulesModel
from app.gui.run_items_model import RunItemsModel
from app.gui.run_progress import PROBLEMS
from app.gui.table_model import SORT_ROLE

ANY_STATE = ""
IN_A_RUN = "in-a-run"


class _TextFilter(QSortFilterProxyModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._text = ""

    def set_text(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "_text", text.strip().casefold()))

    def _refilter(self, change: Callable[[], None]) -> None:
        # invalidateFilter() is deprecated from Qt 6.10 on; the begin/end pair replaces it (6.9+).
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange()
        else:
            change()
            self.invalidateFilter()

    def _matches(self, *values: str) -> bool:
        return not self._text or any(self._text in value.casefold() for value in values)


class ModuleFilter(_TextFilter):
    """Text matches the module or application name; the state is one of the model's states."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = ANY_STATE

    def set_state(self, state: str) -> None:
        self._refilter(lambda: setattr(self, "_state", state))

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, ModulesModel)
        entry = model.rows[row]
        if self._state == IN_A_RUN and entry.locked_by_run is None:
            return False
        if self._state not in (ANY_STATE, IN_A_RUN) and entry.state != self._state:
            return False
        return self._matches(entry.name, entry.application)


class RunItemFilter(_TextFilter):
    """Text matches module, application or message; ``problems_only`` keeps failed and blocked."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._problems_only = False

    def set_problems_only(self, on: bool) -> None:
        self._refilter(lambda: setattr(self, "_problems_only", on))

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, RunItemsModel)
        item = model.rows[row]
        if self._problems_only and item.status not in PROBLEMS:
            return False
        return self._matches(item.module, item.application, item.detail)
