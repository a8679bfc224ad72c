"""Apply configurations: edit a module's configuration values; secret-looking ones are masked."""

from __future__ import annotations

import re
from collections.abc import Mapping

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

SECRET_KEY = re.compile(r"password|passwd|secret|token|key", re.IGNORECASE)


def looks_secret(key: str) -> bool:
    return SECRET_KEY.search(key) is not None


class ConfigDialog(QDialog):
    def __init__(self, module: str, values: Mapping[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Apply configurations — {module}")
        self._original = dict(values)
        self.editors: dict[str, QLineEdit] = {}
        form = QFormLayout()
        for key, value in sorted(values.items()):
            editor = QLineEdit(value)
            editor.setAccessibleName(key)
            if looks_secret(key):
                editor.setEchoMode(QLineEdit.EchoMode.Password)
            self.editors[key] = editor
            form.addRow(f"{key}:", editor)
        self.reveal = QCheckBox("&Show secret values")
        self.reveal.toggled.connect(self._reveal)
        self.reveal.setVisible(any(looks_secret(key) for key in values))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("&Apply")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        note = "Changed values are written to every front-end where the module is live."
        layout.addWidget(QLabel(note if values else f"{module} declares no configuration values."))
        layout.addLayout(form)
        layout.addWidget(self.reveal)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def _reveal(self, on: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
        for key, editor in self.editors.items():
            if looks_secret(key):
                editor.setEchoMode(mode)

    def changed_values(self) -> dict[str, str]:
        return {key: e.text() for key, e in self.editors.items() if e.text() != self._original[key]}
