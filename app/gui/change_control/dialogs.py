"""Dialogs of the Change control pane: a weekly window, and a freeze. They only collect text; the
engine checks it (an unknown zone or a start that does not parse comes back as its one line)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QWidget,
)

from app.engine.control.zones import local_zone_name

COMMON_ZONES = ("UTC", "Europe/Lisbon", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Tokyo")


def zone_box() -> QComboBox:
    """An editable list of zones, this machine's first: any IANA name may be typed."""
    box = QComboBox()
    box.setEditable(True)
    here = local_zone_name()
    box.addItems([here, *(zone for zone in COMMON_ZONES if zone != here)])
    return box


def _buttons(dialog: QDialog, form: QFormLayout) -> None:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)


class AddWindowDialog(QDialog):
    """A weekday and a local time, a length in hours, and a zone."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a change window")
        self.start_edit = QLineEdit("Sat 22:00")
        self.hours_box = QDoubleSpinBox()
        self.hours_box.setRange(0.25, 168)
        self.hours_box.setDecimals(2)
        self.hours_box.setValue(4)
        self.zone = zone_box()
        form = QFormLayout(self)
        form.addRow("&Starts (weekday and time):", self.start_edit)
        form.addRow("&Lasts (hours):", self.hours_box)
        form.addRow("&Time zone:", self.zone)
        _buttons(self, form)

    def values(self) -> tuple[str, float, str]:
        return self.start_edit.text().strip(), self.hours_box.value(), self.zone.currentText().strip()


class AddFreezeDialog(QDialog):
    """From and until (local date-times), a zone and a reason."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a change freeze")
        self.starts_edit = QLineEdit()
        self.starts_edit.setPlaceholderText("2026-12-24T00:00")
        self.ends_edit = QLineEdit()
        self.ends_edit.setPlaceholderText("2027-01-02T00:00")
        self.zone = zone_box()
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("shown in every refusal, e.g. year-end freeze")
        form = QFormLayout(self)
        form.addRow("&From:", self.starts_edit)
        form.addRow("&Until:", self.ends_edit)
        form.addRow("&Time zone:", self.zone)
        form.addRow("&Reason:", self.reason_edit)
        _buttons(self, form)

    def values(self) -> tuple[str, str, str, str | None]:
        reason = self.reason_edit.text().strip() or None
        return self.starts_edit.text().strip(), self.ends_edit.text().strip(), self.zone.currentText().strip(), reason
