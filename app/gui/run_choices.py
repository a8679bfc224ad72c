"""The Deploy question with its choices: the plan in words, then the failure budget and, for a
rolling deploy, the soak, checked before the dialog lets the user confirm."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.engine.errors import BadInputError
from app.engine.runs.options import FailureBudget
from app.gui.notifier import Question, RunChoices

BUDGET_HELP = "blank: every module is tried; 5: stop after more than 5 fail; 10%: after more than 10% of them"
SOAK_HELP = "seconds every switched front-end's checks must keep passing before the next one is drained"


class RunChoicesDialog(QDialog):
    """Confirms a run and sets its choices; refuses a failure budget that does not read."""

    def __init__(self, question: Question, choices: RunChoices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(question.title)
        self.choices = choices
        text = QLabel(question.text)
        text.setWordWrap(True)
        self.budget_edit = QLineEdit(choices.max_failures)
        self.budget_edit.setPlaceholderText("no limit")
        self.budget_edit.setToolTip(BUDGET_HELP)
        self.budget_edit.setAccessibleName("Failure budget")
        self.soak_spin = QDoubleSpinBox()
        self.soak_spin.setRange(0, 86400)
        self.soak_spin.setDecimals(0)
        self.soak_spin.setSuffix(" s")
        self.soak_spin.setSpecialValueText("no soak")
        self.soak_spin.setValue(choices.soak)
        self.soak_spin.setToolTip(SOAK_HELP)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setAccessibleName("What is wrong with the choices")
        self.problem.hide()
        form = QFormLayout()
        form.addRow("Stop after &failures:", self.budget_edit)
        if choices.can_soak:
            form.addRow("&Soak each front-end:", self.soak_spin)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        confirm = buttons.addButton(question.confirm_label, QDialogButtonBox.ButtonRole.AcceptRole)
        confirm.setDefault(True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        question.withdrawal.fired.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def accept(self) -> None:
        budget = self.budget_edit.text().strip()
        try:
            if budget:
                FailureBudget.parse(budget)
        except BadInputError as error:
            self.problem.setText(error.message)
            self.problem.show()
            return
        self.choices.max_failures = budget
        self.choices.soak = self.soak_spin.value()
        super().accept()


def ask_with_choices(question: Question, choices: RunChoices) -> bool:
    dialog = RunChoicesDialog(question, choices, QApplication.activeWindow())
    accepted = dialog.exec() == QDialog.DialogCode.Accepted
    return accepted and not question.withdrawal.happened
