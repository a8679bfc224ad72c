"""Desktop notifications through the freedesktop notification service, over the session bus.

``notify`` asks ``org.freedesktop.Notifications`` to show one notice and returns what became of
it: the notice's id, or why there is none (no session bus, no service, an error reply). It
blocks (the service is introspected, then called, each for at most ``CALL_TIMEOUT_MS``), so the
window runs it on a job thread. ``NoticeClicks`` hears the service say that the user clicked one
of our notices.

Why an interface built from introspection and typed ``Q_ARG``s, not a plain ``QDBusMessage``:
the service's ``Notify`` takes ``susssasa{sv}i`` and services check that signature, but
PySide6 turns a Python ``int`` into a D-Bus int32 and cannot put an unsigned 32-bit integer in
a message; the interface's own method converts the arguments to the types the service declares.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Q_ARG, Q_RETURN_ARG, SLOT, QMetaObject, QObject, Qt, Signal, Slot
from PySide6.QtDBus import QDBusConnection, QDBusInterface

SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
APP_NAME = "Deploy Center"
APP_ICON = "deploycenter"  # the icon the .deb installs in the icon theme
DESKTOP_ENTRY = "deploycenter"  # lets the desktop group our notices under the menu entry
CALL_TIMEOUT_MS = 3000
DEFAULT_ACTION = "default"  # the action a click on the notice itself invokes


@dataclass(frozen=True)
class Notice:
    """What one notification says; ``failed`` marks the run's end as bad news."""

    title: str
    body: str
    failed: bool = False
    expire_ms: int = -1  # the service's own default


@dataclass(frozen=True)
class Delivery:
    """The service's answer: the notice's id, or why it was not shown."""

    notice_id: int | None
    problem: str | None = None

    @property
    def shown(self) -> bool:
        return self.notice_id is not None


def notify(bus: QDBusConnection, notice: Notice) -> Delivery:
    """Any thread: show ``notice`` through the service on ``bus``; blocks for at most two calls."""
    if not bus.isConnected():
        return Delivery(None, f"no session bus ({bus.lastError().message() or 'not connected'})")
    service = QDBusInterface(SERVICE, PATH, INTERFACE, bus)
    if not service.isValid():
        return Delivery(None, f"no notification service ({service.lastError().message()})")
    service.setTimeout(CALL_TIMEOUT_MS)
    # Transfer categories are the specification's words for a transfer that ended well or not.
    hints = {"category": "transfer.error" if notice.failed else "transfer.complete", "desktop-entry": DESKTOP_ENTRY}
    notice_id = QMetaObject.invokeMethod(
        service,
        "Notify",
        Qt.ConnectionType.DirectConnection,
        Q_RETURN_ARG("uint"),
        Q_ARG(str, APP_NAME),
        Q_ARG("uint", 0),  # a new notice, not one replacing another
        Q_ARG(str, APP_ICON),
        Q_ARG(str, notice.title),
        Q_ARG(str, notice.body),
        Q_ARG("QStringList", [DEFAULT_ACTION, "Show Deploy Center"]),
        Q_ARG("QVariantMap", hints),
        Q_ARG(int, notice.expire_ms),
    )
    error = service.lastError()
    if error.isValid() or not isinstance(notice_id, int):
        return Delivery(None, f"the notification service refused it ({error.name()}: {error.message()})")
    return Delivery(notice_id)


class NoticeClicks(QObject):
    """Hears ``ActionInvoked`` from the service; ``clicked`` when it names a notice of ours."""

    clicked = Signal()

    def __init__(self, bus: QDBusConnection, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ours: set[int] = set()
        # PySide6 takes the slot's signature as a str here, whatever its type stubs say.
        self.listening = bus.isConnected() and bus.connect(  # type: ignore[call-overload]
            SERVICE, PATH, INTERFACE, "ActionInvoked", self, SLOT("_action_invoked(uint,QString)")
        )

    def expect(self, notice_id: int) -> None:
        self._ours.add(notice_id)

    @Slot("uint", str)
    def _action_invoked(self, notice_id: int, action: str) -> None:
        if notice_id in self._ours and action == DEFAULT_ACTION:
            self._ours.discard(notice_id)
            self.clicked.emit()
