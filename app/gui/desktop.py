"""The desktop around the window: a notification when a run ends while the window is not active.

Through the system tray where the desktop has one (``QSystemTrayIcon.showMessage``, which on
Linux goes to the freedesktop notification service); elsewhere nothing is shown and nothing fails.
Taskbar progress has no Qt API on Linux and is not shown there.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from app.engine.vocabulary import RunStatus
from app.gui.formatting import counts_summary, run_outcome
from app.gui.icons import app_icon
from app.gui.run_progress import RunProgress

NOTIFICATION_MS = 10_000


def run_ended_message(progress: RunProgress) -> tuple[str, str]:
    """Title and text of the notification for a run that ended."""
    outcome = run_outcome(progress.kind, progress.status, progress.counts)
    title = f"Run {progress.run_id} ({progress.kind}): {outcome}"
    counts = counts_summary({status: n for status, n in progress.counts.items() if n})
    return title, f"{counts}. Started by {progress.started_by}."


class RunNotifier(QObject):
    """Tells the desktop that a run ended, when the window is not the one the user looks at."""

    def __init__(
        self,
        window: QWidget,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
        window_active: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._tray_available = tray_available
        self._window_active = window_active or window.isActiveWindow
        self.tray: QSystemTrayIcon | None = None
        self.sent: list[tuple[str, str]] = []  # what was shown, for tests and the log

    def run_ended(self, progress: RunProgress) -> None:
        if self._window_active() or not self._tray_available():
            return
        if self.tray is None:
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("Deploy Center")
            self.tray.messageClicked.connect(self._raise_window)
        self.tray.show()
        title, text = run_ended_message(progress)
        failed = progress.status in (RunStatus.FAILED, RunStatus.INTERRUPTED)
        icon = QSystemTrayIcon.MessageIcon.Warning if failed else QSystemTrayIcon.MessageIcon.Information
        self.tray.showMessage(title, text, icon, NOTIFICATION_MS)
        self.sent.append((title, text))

    def _raise_window(self) -> None:
        self._window.showNormal()
        self._window.raise_()
        self._window.activateWindow()
