"""The notifier: a question withdrawn while it is asked closes its dialog and says so."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from app.gui.notifier import Notifier, Question, Reply, Withdrawal, ask_with_dialog


def test_a_withdrawn_question_closes_its_dialog(qtbot: QtBot) -> None:
    notifier = Notifier()
    notifier.confirmer = ask_with_dialog
    run_ended = Withdrawal()  # stands for any signal, e.g. the tracker's "ended"
    QTimer.singleShot(0, run_ended.fire)  # fires once the dialog's own event loop runs

    reply = notifier.ask("Cancel run", "Stop run 3?", "Stop the run", withdrawn_by=run_ended.fired)

    assert reply is Reply.WITHDRAWN


def test_a_question_is_withdrawn_only_when_its_condition_holds(qtbot: QtBot) -> None:
    notifier = Notifier()
    other_run = Withdrawal()

    def answer_after_the_run_ends(_question: Question) -> bool:
        other_run.fire()
        return True

    notifier.confirmer = answer_after_the_run_ends

    reply = notifier.ask("Cancel run", "Stop run 3?", withdrawn_by=other_run.fired, applies=lambda: False)

    assert reply is Reply.YES
