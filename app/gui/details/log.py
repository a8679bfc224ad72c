"""A run's log as the Deployment Details pane shows it: a bounded, read-only text and a search
field under it (Enter finds the next match, Shift+Enter the previous one, wrapping around once).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QTextDocument
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QVBoxLayout, QWidget

from app.gui.run_progress import LOG_LIMIT


class RunLog(QWidget):
    """The log text (``view``) over its search field (``search``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setAccessibleName("Run log")
        self.view.setMaximumBlockCount(LOG_LIMIT)  # bounded: a huge run never slows the view down
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search the log (Enter: next, Shift+Enter: previous)")
        self.search.setAccessibleName("Search the log")
        self.search.returnPressed.connect(lambda: self.find_text(self.search.text()))
        back = QAction(self.search)
        back.setShortcut(QKeySequence("Shift+Return"))
        back.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        back.triggered.connect(lambda: self.find_text(self.search.text(), backward=True))
        self.search.addAction(back)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.search)

    def show_lines(self, lines: Iterable[str]) -> None:
        """The whole log, its last line in view."""
        self.view.setPlainText("\n".join(lines))
        self.view.moveCursor(self.view.textCursor().MoveOperation.End)

    def append(self, lines: list[str]) -> None:
        self.view.appendPlainText("\n".join(lines))  # one append per batch, however many lines

    def scroll_to_end(self) -> None:
        bar = self.view.verticalScrollBar()
        bar.setValue(bar.maximum())

    def find_text(self, text: str, backward: bool = False) -> bool:
        flags = QTextDocument.FindFlag.FindBackward if backward else QTextDocument.FindFlag(0)
        if not text:
            return False
        if self.view.find(text, flags):
            return True
        cursor = self.view.textCursor()  # wrap around once
        cursor.movePosition(cursor.MoveOperation.End if backward else cursor.MoveOperation.Start)
        self.view.setTextCursor(cursor)
        return self.view.find(text, flags)
