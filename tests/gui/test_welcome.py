"""First launch: the welcome dialog creates a demo or an empty environment, or opens another one."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.engine.context import Location
from app.engine.read import views
from app.gui.welcome import WelcomeDialog

TIMEOUT_MS = 30_000


def run_dialog(qtbot: QtBot, dialog: WelcomeDialog) -> None:
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.finished, timeout=TIMEOUT_MS):
        dialog.buttons.accepted.emit()


def test_create_the_demo(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = WelcomeDialog(Location(tmp_path / "new"))
    run_dialog(qtbot, dialog)
    assert dialog.context is not None
    try:
        status = views.status(dialog.context)
        assert (status.name, status.total, status.platform_version) == ("Demo", 30, "11.18.1")
    finally:
        dialog.context.close()


def test_create_an_empty_environment(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = WelcomeDialog(Location(tmp_path / "new"))
    dialog.empty_choice.setChecked(True)
    dialog.name_edit.setText("Staging")
    dialog.platform_combo.setCurrentText("11.19.0")
    dialog.frontends.addItem(str(tmp_path / "web1"))
    run_dialog(qtbot, dialog)
    assert dialog.context is not None
    try:
        status = views.status(dialog.context)
        assert (status.name, status.platform_version, status.total) == ("Staging", "11.19.0", 0)
        assert [(fe.name, fe.location) for fe in status.frontends] == [("web1", str(tmp_path / "web1"))]
    finally:
        dialog.context.close()


def test_opening_a_folder_without_an_environment_says_so_and_stays(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = WelcomeDialog(Location(tmp_path / "new"))
    qtbot.addWidget(dialog)
    dialog.open_choice.setChecked(True)
    dialog.folder_edit.setText(str(tmp_path / "missing"))
    with qtbot.waitSignal(dialog._jobs.finished, timeout=TIMEOUT_MS):
        dialog.buttons.accepted.emit()
    assert dialog.context is None and dialog.result() == 0  # still open, not accepted
    assert "no environment at" in dialog.message_bar.text


def test_the_chosen_data_folder_is_opened_next_time(qtbot: QtBot, tmp_path: Path, location: Location) -> None:
    from app.gui.settings import remembered_location

    dialog = WelcomeDialog(Location(tmp_path / "new"))
    dialog.open_choice.setChecked(True)
    dialog.folder_edit.setText(str(location.data_dir))
    run_dialog(qtbot, dialog)
    assert dialog.context is not None
    dialog.context.close()

    assert remembered_location(None, None, environ={}) == Location(location.data_dir)
    given = remembered_location(str(tmp_path / "other"), None, environ={})
    assert given.data_dir == tmp_path / "other", "an explicit --data-dir wins"
    from_env = remembered_location(None, None, environ={"DEPLOYCENTER_DATA_DIR": str(tmp_path / "ci")})
    assert from_env.data_dir == tmp_path / "ci"


def test_dismissing_the_welcome_with_esc_leaves_the_data_folder_as_it_was(qtbot: QtBot, tmp_path: Path) -> None:
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.gui.application import open_or_welcome

    folder = tmp_path / "demo"
    folder.mkdir()  # a folder made beforehand, as the demo script's own data folder may be
    shown: list[WelcomeDialog] = []

    def press_esc() -> None:
        dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, WelcomeDialog) and w.isVisible()]
        if not dialogs:  # not shown yet: look again on the next turn
            QTimer.singleShot(10, press_esc)
            return
        shown.extend(dialogs)
        QTest.keyClick(dialogs[0], Qt.Key.Key_Escape)

    QTimer.singleShot(0, press_esc)
    assert open_or_welcome(Location(folder)) is None
    assert len(shown) == 1, "the welcome dialog was shown, then dismissed"
    assert list(folder.iterdir()) == [], "nothing is made before the user chooses"

    dialog = WelcomeDialog(Location(folder))  # the next start still offers to make the demo there
    run_dialog(qtbot, dialog)
    assert dialog.context is not None
    try:
        assert views.status(dialog.context).total == 30
    finally:
        dialog.context.close()
