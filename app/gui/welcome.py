"""First launch: no environment in the data folder yet. Create a demo or an empty one, or open another."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.engine import operations
from app.engine.catalog import DEFAULT_PLATFORM, load_catalog
from app.engine.context import EnvironmentContext, Location, open_context
from app.engine.read import queries
from app.engine.secret_sources import rewrite_clear_sources
from app.gui.icons import app_icon
from app.gui.jobs import JobResult, JobRunner
from app.gui.notifier import ERROR, Message
from app.gui.settings import remember_location
from app.gui.widgets import MessageBar

DEMO, EMPTY, OPEN = "demo", "empty", "open"


def open_environment(location: Location) -> EnvironmentContext:
    """An opened environment; ``StateError`` (and nothing left open) when there is none there."""
    ctx = open_context(location)
    try:
        queries.environment_name(ctx)
        rewrite_clear_sources(ctx)  # once, after an upgrade from a release that stored secrets there
    except BaseException:
        ctx.close()
        raise
    return ctx


def _row(*widgets: QWidget) -> QWidget:
    """Widgets side by side, as one form field.

    A QWidget rather than a bare layout: PySide6 does not hand a layout given to
    QFormLayout.addRow over to Qt, and deletes it a second time at exit (a crash).
    """
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QLineEdit) else 0)
    if not any(isinstance(widget, QLineEdit) for widget in widgets):
        layout.addStretch(1)
    return row


class WelcomeDialog(QDialog):
    def __init__(self, location: Location, problem: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.location = location
        self.context: EnvironmentContext | None = None
        self._jobs = JobRunner(self)
        self.setWindowTitle("Welcome to Deploy Center")
        self.setWindowIcon(app_icon())
        self._build(problem)

    def _build(self, problem: str | None) -> None:
        where = self.location.database_url or str(self.location.data_dir)
        intro = QLabel(
            f"<b>There is no environment in <code>{where}</code> yet.</b><br>"
            "Create one here, or open another data folder or database."
        )
        intro.setWordWrap(True)
        self.message_bar = MessageBar()
        if problem:  # not simply "nothing there": e.g. a database that cannot be opened
            self.message_bar.show_message(Message(ERROR, problem))
        self.choices = QButtonGroup(self)
        self.demo_choice = self._choice(DEMO, f"Create a &demo environment (30 sample modules on {DEFAULT_PLATFORM})")
        self.empty_choice = self._choice(EMPTY, "Create an &empty environment")
        self.open_choice = self._choice(OPEN, "&Open another data folder or database")
        self.demo_choice.setChecked(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.demo_choice)
        layout.addWidget(self.empty_choice)
        layout.addWidget(self._empty_options())
        layout.addWidget(self.open_choice)
        layout.addWidget(self._open_options())
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.hide()
        layout.addWidget(self.busy)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Close)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("&Continue")
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.choices.buttonToggled.connect(self._update)
        self._update()
        self.setMinimumWidth(560)

    def _choice(self, key: str, text: str) -> QRadioButton:
        button = QRadioButton(text)
        button.setObjectName(key)
        self.choices.addButton(button)
        return button

    def _empty_options(self) -> QWidget:
        self.empty_box = QWidget()
        form = QFormLayout(self.empty_box)
        form.setContentsMargins(24, 0, 0, 0)
        self.name_edit = QLineEdit(self.location.data_dir.name)
        self.platform_combo = QComboBox()
        for entry in load_catalog().versions:
            self.platform_combo.addItem(entry.version)
        self.platform_combo.setCurrentText(DEFAULT_PLATFORM)
        self.frontends = QListWidget()
        self.frontends.setAccessibleName("Front-end folders")
        self.frontends.setMaximumHeight(80)
        add = QPushButton("&Add folder…")
        add.clicked.connect(self._add_frontend)
        remove = QPushButton("&Remove")
        remove.clicked.connect(lambda: self.frontends.takeItem(self.frontends.currentRow()))
        buttons = _row(add, remove)
        form.addRow("Name:", self.name_edit)
        form.addRow("Platform version:", self.platform_combo)
        form.addRow("Front-end folders:", self.frontends)
        form.addRow("", buttons)
        form.addRow("", QLabel(f"Without folders: {self.location.data_dir / 'frontends' / 'default'}"))
        return self.empty_box

    def _open_options(self) -> QWidget:
        self.open_box = QWidget()
        form = QFormLayout(self.open_box)
        form.setContentsMargins(24, 0, 0, 0)
        self.folder_edit = QLineEdit(str(self.location.data_dir))
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self._browse)
        row = _row(self.folder_edit, browse)
        self.url_edit = QLineEdit(self.location.database_url or "")
        self.url_edit.setPlaceholderText("optional, e.g. postgresql+psycopg://user@host/deploycenter")
        form.addRow("Data folder:", row)
        form.addRow("Database URL:", self.url_edit)
        return self.open_box

    def _update(self) -> None:
        self.empty_box.setEnabled(self.empty_choice.isChecked())
        self.open_box.setEnabled(self.open_choice.isChecked())

    def _add_frontend(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Front-end folder")
        if folder:
            self.frontends.addItem(folder)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Data folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    # -- doing it -----------------------------------------------------------------------------

    def choice(self) -> str:
        button = self.choices.checkedButton()
        return button.objectName() if button else DEMO

    def start(self) -> None:
        """Create or open on a job thread; the dialog closes when it worked, and says why not otherwise."""
        self.message_bar.hide()
        self._set_busy(True)
        self._jobs.submit("welcome", self._work(), self._done)

    def _work(self) -> Callable[[], EnvironmentContext]:
        choice, location = self.choice(), self.location
        if choice == DEMO:
            return lambda: operations.init_environment(location, demo=True)
        if choice == EMPTY:
            name = self.name_edit.text().strip() or None
            platform = self.platform_combo.currentText()
            folders = [self.frontends.item(n).text() for n in range(self.frontends.count())]
            return lambda: operations.init_environment(location, name=name, platform=platform, frontends=folders)
        other = Location.from_options(self.folder_edit.text().strip() or None, self.url_edit.text().strip() or None)
        self.location = other
        return lambda: open_environment(other)

    def _done(self, result: JobResult) -> None:
        self._set_busy(False)
        if result.ok:
            self.context = result.value
            remember_location(self.context.location)  # opened again at the next launch
            self.accept()
        else:
            self.message_bar.show_message(Message(ERROR, result.error_text))

    def _set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        choices = (self.demo_choice, self.empty_choice, self.open_choice)
        for widget in (self.buttons, *choices, self.empty_box, self.open_box):
            widget.setEnabled(not busy)
        if not busy:
            self._update()

    def reject(self) -> None:
        if not self.busy.isVisible():  # never leave a creation running behind a closed dialog
            super().reject()
