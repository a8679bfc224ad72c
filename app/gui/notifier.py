"""The one way the window tells the user something or asks a yes/no question.

Panes show the messages meant for them (a message bar), the status bar shows the rest; tests
read ``messages`` and answer confirmations through ``confirmer`` instead of patching dialogs.

A question may carry choices the user makes while answering (``RunChoices``: how a run goes, such
as its failure budget); the dialog shows them as fields, and tests set them as a user would.

A message or a question can be about one run. A message about a run (a refusal because it is in
progress, a notice that it is cancelling) goes away when the run ends; a question about a run is
withdrawn when the run ends while it is asked (the dialog closes itself), so that nobody confirms
an action on a run that is already over. A message also names its ``source``, the action that
raised it: that action can withdraw it once what it said no longer holds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

from app.engine.runs.options import FailureBudget, RunOptions

log = logging.getLogger(__name__)

INFO = "info"
WARNING = "warning"
ERROR = "error"


@dataclass(frozen=True)
class Message:
    level: str
    text: str
    pane: str | None = None  # "upgrades", "modules", "details"; None for the status bar
    run_id: int | None = None  # a message about one run: it no longer applies once the run ends
    source: str | None = None  # the action that raised it, e.g. "Add front-end" or "Deploy"


class Withdrawal(QObject):
    """Fired when what a question asks about is gone; the dialog asking it closes itself."""

    fired = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.happened = False

    def fire(self) -> None:
        if not self.happened:
            self.happened = True
            self.fired.emit()


@dataclass
class RunChoices:
    """What a user may choose about a run while confirming it: its failure budget (``--max-failures``,
    blank for none) and, for a run that switches back on its own, its soak in seconds (0: none)."""

    max_failures: str = ""
    soak: float = 0.0
    can_soak: bool = False

    def options(self, rolling: bool) -> RunOptions:
        """The run's options; ``BadInputError`` when the budget does not read."""
        budget = self.max_failures.strip()
        return RunOptions(
            rolling=rolling,
            soak=self.soak if self.can_soak and self.soak > 0 else None,
            max_failures=FailureBudget.parse(budget) if budget else None,
        )


@dataclass(frozen=True)
class Question:
    title: str
    text: str
    confirm_label: str = "OK"
    decline_label: str = "Cancel"  # say what declining does when "Cancel" would read as the action
    withdrawal: Withdrawal = field(default_factory=Withdrawal, compare=False, repr=False)
    choices: RunChoices | None = field(default=None, compare=False)


class Reply(Enum):
    YES = "yes"
    NO = "no"
    WITHDRAWN = "withdrawn"  # the question stopped applying while it was asked


Confirmer = Callable[[Question], bool]


def ask_with_dialog(question: Question) -> bool:
    if question.choices is not None:
        from app.gui.run_choices import ask_with_choices

        return ask_with_choices(question, question.choices)
    from PySide6.QtWidgets import QApplication, QMessageBox

    box = QMessageBox(
        QMessageBox.Icon.Question,
        question.title,
        question.text,
        QMessageBox.StandardButton.NoButton,
        QApplication.activeWindow(),
    )
    no = box.addButton(question.decline_label, QMessageBox.ButtonRole.RejectRole)
    box.setEscapeButton(no)
    yes = box.addButton(question.confirm_label, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(yes)
    question.withdrawal.fired.connect(box.reject)
    box.exec()
    return box.clickedButton() is yes and not question.withdrawal.happened


class Notifier(QObject):
    posted = Signal(object)  # Message
    withdrawn = Signal(str, str)  # pane, source: what that action said there no longer holds

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.messages: list[Message] = []
        self.questions: list[Question] = []
        self.confirmer: Confirmer = ask_with_dialog

    def info(self, text: str, pane: str | None = None, run_id: int | None = None, *, source: str | None = None) -> None:
        self._post(Message(INFO, text, pane, run_id, source))

    def warning(self, text: str, pane: str | None = None, *, source: str | None = None) -> None:
        self._post(Message(WARNING, text, pane, None, source))

    def error(
        self, text: str, pane: str | None = None, run_id: int | None = None, *, source: str | None = None
    ) -> None:
        self._post(Message(ERROR, text, pane, run_id, source))

    def withdraw(self, pane: str, source: str) -> None:
        """What ``source`` said in ``pane`` no longer holds (a refused action is allowed now)."""
        self.withdrawn.emit(pane, source)

    def confirm(self, title: str, text: str, confirm_label: str = "OK", *, choices: RunChoices | None = None) -> bool:
        """Ask a yes/no question; ``choices``, when given, are shown and filled in as the user answers."""
        return self.ask(title, text, confirm_label, choices=choices) is Reply.YES

    def ask(
        self,
        title: str,
        text: str,
        confirm_label: str = "OK",
        *,
        decline_label: str = "Cancel",
        withdrawn_by: SignalInstance | None = None,
        applies: Callable[..., bool] | None = None,
        choices: RunChoices | None = None,
    ) -> Reply:
        """Ask; ``withdrawn_by`` firing meanwhile (with ``applies`` true of its arguments) withdraws it."""
        question = Question(title, text, confirm_label, decline_label, choices=choices)
        self.questions.append(question)

        def withdraw(*args: Any) -> None:
            if applies is None or applies(*args):
                question.withdrawal.fire()

        if withdrawn_by is not None:
            withdrawn_by.connect(withdraw)
        try:
            yes = self.confirmer(question)
        finally:
            if withdrawn_by is not None:
                withdrawn_by.disconnect(withdraw)
        if question.withdrawal.happened:
            return Reply.WITHDRAWN
        return Reply.YES if yes else Reply.NO

    def _post(self, message: Message) -> None:
        log.log(logging.ERROR if message.level == ERROR else logging.INFO, "%s", message.text)
        self.messages.append(message)
        del self.messages[:-200]
        self.posted.emit(message)
