"""The one way the window tells the user something or asks a yes/no question.

Panes show the messages meant for them (a message bar), the status bar shows the rest; tests
read ``messages`` and answer confirmations through ``confirmer`` instead of patching dialogs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

INFO = "info"
WARNING = "warning"
ERROR = "error"


@dataclass(frozen=True)
class Message:
    level: str
    text: str
    pane: str | None = None  # "upgrades", "modules", "details"; None for the status bar


@dataclass(frozen=True)
class Question:
    title: str
    text: str
    confirm_label: str = "OK"


Confirmer = Callable[[Question], bool]


def ask_with_dialog(question: Question) -> bool:
    from PySide6.QtWidgets import QApplication, QMessageBox

    box = QMessageBox(QMessageBox.Icon.Question, question.title, question.text,
                      QMessageBox.StandardButton.Cancel, QApplication.activeWindow())
    yes = box.addButton(question.confirm_label, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(yes)
    box.exec()
    return box.clickedButton() is yes


class Notifier(QObject):
    posted = Signal(object)  # Message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.messages: list[Message] = []
        self.questions: list[Question] = []
        self.confirmer: Confirmer = ask_with_dialog

    def info(self, text: str, pane: str | None = None) -> None:
        self._post(Message(INFO, text, pane))

    def warning(self, text: str, pane: str | None = None) -> None:
        self._post(Message(WARNING, text, pane))

    def error(self, text: str, pane: str | None = None) -> None:
        self._post(Message(ERROR, text, pane))

    def confirm(self, title: str, text: str, confirm_label: str = "OK") -> bool:
        question = Question(title, text, confirm_label)
        self.questions.append(question)
        return self.confirmer(question)

    def _post(self, message: Message) -> None:
        log.log(logging.ERROR if message.level == ERROR else logging.INFO, "%s", message.text)
        self.messages.append(message)
        del self.messages[:-200]
        self.posted.emit(message)
