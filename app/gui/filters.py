"""Sorting and filtering in front of the table models: a text filter plus one choice per table.

Filtering runs on Qt's own regular-expression path over a FILTER_ROLE key the models provide,
not in a Python ``filterAcceptsRow``: with no filter set Qt then accepts every row without
calling Python at all, which keeps resets and big updates of 10,000-row tables cheap.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QObject, QRegularExpression, QSortFilterProxyModel, Qt

from app.gui.table_model import FILTER_ROLE, SORT_ROLE

ANY_STATE = ""
IN_A_RUN = "in-a-run"
ANY_FIELD = "[^\t]*"


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


class ModuleFilter(_KeyFilter):
    """Text matches the module or application name; the state is one of the model's states."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._state = ANY_STATE

    def set_state(self, state: str) -> None:
        self._state = state
        self._apply()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorted by the model itself (one key per row); this proxy keeps the model's order."""
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)

    def _choices(self) -> list[str]:
        if self._state == IN_A_RUN:
            return [ANY_FIELD, "[0-9]+"]
        return [re.escape(self._state) if self._state else ANY_FIELD, ANY_FIELD]


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
