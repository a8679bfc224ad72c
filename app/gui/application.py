"""The Qt application: opens the environment (or welcomes the user), shows the window, runs."""

from __future__ import annotations

import logging
import signal
import sys
from types import TracebackType

from PySide6.QtCore import QMessageLogContext, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QDialog

from app.engine.context import EnvironmentContext, Location
from app.engine.errors import DeployCenterError, StateError
from app.gui.icons import app_icon
from app.gui.main_window import MainWindow
from app.gui.memory import settle_long_lived
from app.gui.session import GuiSession
from app.gui.welcome import WelcomeDialog, open_environment

log = logging.getLogger(__name__)
QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _qt_message(kind: QtMsgType, _context: QMessageLogContext, text: str) -> None:
    logging.getLogger("app.gui.qt").log(QT_LEVELS.get(kind, logging.WARNING), "%s", text)


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """A bug in a slot: log it with its traceback; the window keeps running."""
    log.critical("unexpected error", exc_info=(kind, error, trace))


def make_application(argv: list[str]) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv)
    app.setApplicationName("Deploy Center")
    app.setOrganizationName("deploycenter")
    app.setDesktopFileName("deploycenter")
    app.setWindowIcon(app_icon())
    return app


def open_or_welcome(location: Location) -> EnvironmentContext | None:
    """The environment at ``location``, or what the welcome dialog made; None when the user quits."""
    try:
        return open_environment(location)
    except DeployCenterError as error:
        dialog = WelcomeDialog(location, None if isinstance(error, StateError) else error.message)
        dialog.exec()
        return dialog.context


def stop_on_signals(app: QApplication) -> QTimer:
    """Ctrl-C in the terminal, or SIGTERM from a session manager: cancel our runs and close.

    Python runs signal handlers only between bytecodes; the idle timer gives it that chance
    while Qt's event loop is waiting.
    """

    def close_everything() -> None:
        for widget in app.topLevelWidgets():
            if isinstance(widget, MainWindow):
                widget.close_without_asking()
            elif isinstance(widget, QDialog) and widget.isVisible():
                widget.reject()

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda _number, _frame: QTimer.singleShot(0, close_everything))
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(250)
    return wake


def run_application(location: Location, argv: list[str]) -> int:
    qInstallMessageHandler(_qt_message)
    sys.excepthook = _log_uncaught
    app = make_application(argv)
    stop_on_signals(app)
    ctx = open_or_welcome(location)
    if ctx is None:
        return 0
    session = GuiSession(ctx)
    window = MainWindow(session)
    window.show()
    settle_long_lived()  # what start-up created lives as long as the window
    session.start()
    try:
        return app.exec()
    finally:
        session.close()
