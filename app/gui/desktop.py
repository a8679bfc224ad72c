"""The desktop around the window: how the operator learns that a run ended.

Whenever a run ends, the window asks for the user's attention (``QApplication.alert``: the
window manager's urgency hint, a flashing taskbar entry), whether or not anything else can be
shown. When the window is not the one the user looks at, a notice also goes to the freedesktop
notification service on the session bus (``notifications``, on a job thread: the window never
waits for the service); where there is none, to the system tray's message; where there is no
tray either (a bare window manager), the urgency hint is all there is. A click on the notice
brings the window up. Taskbar progress has no Qt API on Linux and is not shown there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from PySide6.QtCore import QObject
from PySide6.QtDBus import QDBusConnection
from PySide6.QtWidgets import QApplication, QSystemTrayIcon, QWidget

from app.engine.vocabulary import RunStatus
from app.gui.formatting import counts_summary, run_outcome
from app.gui.icons import app_icon
from app.gui.jobs import JobResult
from app.gui.notifications import Delivery, Notice, NoticeClicks, notify
from app.gui.run_progress import RunProgress
from app.gui.session import GuiSession

log = logging.getLogger(__name__)
NOTIFICATION_MS = 10_000
NOTIFY_JOB = "desktop notice"
DBUS, TRAY = "notification service", "tray"


def run_ended_notice(progress: RunProgress) -> Notice:
    """What the notice for a run that ended says."""
    outcome = run_outcome(progress.kind, progress.status, progress.counts)
    counts = counts_summary({status: n for status, n in progress.counts.items() if n})
    failed = progress.status in (RunStatus.FAILED, RunStatus.INTERRUPTED)
    return Notice(
        f"Run {progress.run_id} ({progress.kind}): {outcome}",
        f"{counts}. Started by {progress.started_by}.",
        failed,
        NOTIFICATION_MS,
    )


@dataclass(frozen=True)
class Sent:
    """A notice shown, and where: for the tests and the log."""

    notice: Notice
    channel: str  # DBUS or TRAY


class RunNotifier(QObject):
    """Tells the desktop that a run ended; the urgency hint every time, a notice when unseen."""

    def __init__(
        self,
        window: QWidget,
        session: GuiSession,
        *,
        bus: QDBusConnection | None = None,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
        window_active: Callable[[], bool] | None = None,
        alert: Callable[[QWidget], None] = QApplication.alert,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._session = session
        self._bus = bus if bus is not None else QDBusConnection.sessionBus()
        self._tray_available = tray_available
        self._window_active = window_active or window.isActiveWindow
        self._alert = alert
        self.clicks = NoticeClicks(self._bus, self)
        self.clicks.clicked.connect(self._raise_window)
        self.tray: QSystemTrayIcon | None = None
        self.sent: list[Sent] = []

    def run_ended(self, progress: RunProgress) -> None:
        self._alert(self._window)  # a no-op for the active window; urgent for any other
        if self._window_active():
            return
        notice = run_ended_notice(progress)
        if not self._bus.isConnected() or self._session.closed:  # no thread is started once closing
            self._show_in_tray(notice)
            return
        self._session.jobs.submit(NOTIFY_JOB, partial(notify, self._bus, notice), partial(self._delivered, notice))

    def _delivered(self, notice: Notice, result: JobResult) -> None:
        delivery: Delivery | None = result.value if result.ok else None
        if delivery is not None and delivery.notice_id is not None:
            self.clicks.expect(delivery.notice_id)
            self.sent.append(Sent(notice, DBUS))
            return
        log.info("desktop notice not shown by the notification service: %s", delivery.problem if delivery else result)
        self._show_in_tray(notice)

    def _show_in_tray(self, notice: Notice) -> None:
        if not self._tray_available():
            return  # the urgency hint is all this desktop can show
        if self.tray is None:
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("Deploy Center")
            self.tray.messageClicked.connect(self._raise_window)
        self.tray.show()
        icon = QSystemTrayIcon.MessageIcon.Warning if notice.failed else QSystemTrayIcon.MessageIcon.Information
        self.tray.showMessage(notice.title, notice.body, icon, NOTIFICATION_MS)
        self.sent.append(Sent(notice, TRAY))

    def _raise_window(self) -> None:
        self._window.showNormal()
        self._window.raise_()
        self._window.activateWindow()
