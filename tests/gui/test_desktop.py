"""How the operator learns that a run ended: the urgency hint, the notification service, the tray.

The notification service is a real one on a real session bus (``tests/dbus.py``): it takes a
notice only with the specification's argument types, and records what it took.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtDBus import QDBusConnection
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.engine.events import ItemFinished, ItemSnapshot, RunFinished, RunStarted
from app.gui.desktop import DBUS, TRAY, RunNotifier, Sent, run_ended_notice
from app.gui.formatting import utcnow
from app.gui.main_window import MainWindow
from app.gui.notifications import Notice
from tests.dbus import NotificationService

TIMEOUT_MS = 10_000
NOTICE = Notice("Run 90 (deploy-all): Failed", "1 failed. Started by ci.", failed=True, expire_ms=10_000)
# What the offscreen platform says about every top-level window (a marker replaces the suite's own).
SIZE_HINTS = "This plugin does not support propagateSizeHints"
# It has no tray: making a tray icon there says so (these tests pretend there is one).
NO_TRAY_HERE = "No such signal QPlatformNativeInterface::systemTrayWindowChanged"


class Alerts(list[QWidget]):
    """Records the windows marked urgent (``QApplication.alert`` does nothing visible offscreen)."""

    def __call__(self, window: QWidget) -> None:
        self.append(window)


def notifier_of(
    window: MainWindow, *, active: bool = False, tray: bool = False, bus: QDBusConnection | None = None
) -> tuple[RunNotifier, Alerts]:
    """The window's notifier, made again with a known activity, tray and bus, and the only one listening."""
    alerts = Alerts()
    window.session.tracker.ended.disconnect(window.desktop.run_ended)
    window.desktop = RunNotifier(
        window, window.session, bus=bus, tray_available=lambda: tray, window_active=lambda: active, alert=alerts
    )
    window.session.tracker.ended.connect(window.desktop.run_ended)
    return window.desktop, alerts


def end_a_run(window: MainWindow) -> None:
    window.session.tracker.apply_events(
        [
            RunStarted(90, "deploy-all", "ci", utcnow(), (ItemSnapshot("X1", "Bench", 1, "pending"),)),
            ItemFinished(90, "X1", "failed", "disk full", None, 0.1),
            RunFinished(90, "failed"),
        ]
    )


@pytest.mark.qt_log_ignore(SIZE_HINTS, "This plugin does not support raise")
def test_a_run_that_ends_unseen_is_notified_through_the_service_and_its_click_shows_the_window(
    qtbot: QtBot, window: MainWindow, notification_service: NotificationService
) -> None:
    notifier, alerts = notifier_of(window)
    end_a_run(window)
    qtbot.waitUntil(lambda: notifier.sent == [Sent(NOTICE, DBUS)], timeout=TIMEOUT_MS)
    assert notification_service.calls() == [
        {
            "id": 1,
            "app_name": "Deploy Center",
            "replaces_id": 0,
            "app_icon": "deploycenter",
            "summary": "Run 90 (deploy-all): Failed",
            "body": "1 failed. Started by ci.",
            "actions": ["default", "Show Deploy Center"],
            "hints": {"category": "transfer.error", "desktop-entry": "deploycenter"},
            "expire_timeout": 10_000,
        }
    ]
    assert alerts == [window], "the window is marked urgent as well"
    assert notifier.tray is None

    window.showMinimized()
    notification_service.click(1)
    qtbot.waitUntil(lambda: not window.isMinimized(), timeout=TIMEOUT_MS)


@pytest.mark.qt_log_ignore(SIZE_HINTS, NO_TRAY_HERE)
def test_without_a_notification_service_the_tray_shows_it(qtbot: QtBot, window: MainWindow) -> None:
    notifier, alerts = notifier_of(window, tray=True)  # the session bus is there, with no service on it
    end_a_run(window)
    qtbot.waitUntil(lambda: bool(notifier.sent), timeout=TIMEOUT_MS)
    assert notifier.sent == [Sent(NOTICE, TRAY)]
    assert notifier.tray is not None and alerts == [window]


@pytest.mark.qt_log_ignore(SIZE_HINTS, NO_TRAY_HERE)
def test_without_a_session_bus_the_tray_shows_it_at_once(window: MainWindow, tmp_path: Path) -> None:
    no_bus = QDBusConnection.connectToBus(f"unix:path={tmp_path / 'no-bus'}", "no bus")
    notifier, alerts = notifier_of(window, tray=True, bus=no_bus)
    end_a_run(window)
    assert notifier.sent == [Sent(NOTICE, TRAY)] and alerts == [window]


def test_without_service_or_tray_the_urgency_hint_is_all_and_nothing_fails(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    no_bus = QDBusConnection.connectToBus(f"unix:path={tmp_path / 'no-bus'}", "no bus")
    notifier, alerts = notifier_of(window, bus=no_bus)
    end_a_run(window)
    assert notifier.sent == [] and notifier.tray is None and alerts == [window]


def test_the_window_the_operator_looks_at_gets_no_notice(
    qtbot: QtBot, window: MainWindow, notification_service: NotificationService
) -> None:
    notifier, alerts = notifier_of(window, active=True)
    end_a_run(window)
    assert alerts == [window], "asked for, and ignored by the desktop for the active window"
    assert not window.session.jobs.running("desktop notice")
    assert notifier.sent == [] and notification_service.calls() == []


def test_the_notice_of_a_run_that_went_well() -> None:
    from app.gui.run_progress import RunProgress

    progress = RunProgress(3, "deploy-all", "me", utcnow(), [], own=True, status="succeeded")
    progress.counts.update({"deployed": 24, "skipped": 6})
    notice = run_ended_notice(progress)
    assert (notice.title, notice.failed) == ("Run 3 (deploy-all): Succeeded", False)
    assert notice.body == "24 deployed, 6 skipped. Started by me."
