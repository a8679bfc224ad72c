"""A freedesktop notification service for the tests, run as its own process by ``tests/dbus.py``.

    python tests/notification_service.py BUS_ADDRESS CALLS_FILE

Owns ``org.freedesktop.Notifications`` on the bus at BUS_ADDRESS and exports ``Notify`` with the
specification's signature (``susssasa{sv}i``, answering a ``uint32`` id): a call with other
argument types finds no such method, as it would on a desktop's service. Each call taken is
appended to CALLS_FILE as one line of JSON. It prints ``ready`` once it owns the name, reads
``click ID`` lines on stdin (then emits ``ActionInvoked(ID, "default")``), and exits when its
stdin closes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import ClassInfo, QCoreApplication, QObject, QSocketNotifier, Signal, Slot
from PySide6.QtDBus import QDBusConnection


# PySide6's type stubs know neither ClassInfo as a decorator nor a signal typed by a C++ name.
@ClassInfo({"D-Bus Interface": "org.freedesktop.Notifications"})  # type: ignore[call-arg]
class Notifications(QObject):  # type: ignore[operator]
    ActionInvoked = Signal("uint", str)  # type: ignore[arg-type]  # the specification's uint32

    def __init__(self, calls_file: Path) -> None:
        super().__init__()
        self.calls_file = calls_file
        self.last_id = 0

    @Slot(str, "uint", str, str, str, "QStringList", "QVariantMap", int, result="uint")
    def Notify(
        self,
        app_name: str,
        replaces_id: int,
        app_icon: str,
        summary: str,
        body: str,
        actions: list[str],
        hints: dict[str, Any],
        expire_timeout: int,
    ) -> int:
        self.last_id += 1
        call = {
            "id": self.last_id,
            "app_name": app_name,
            "replaces_id": replaces_id,
            "app_icon": app_icon,
            "summary": summary,
            "body": body,
            "actions": actions,
            "hints": hints,
            "expire_timeout": expire_timeout,
        }
        with self.calls_file.open("a", encoding="utf-8") as calls:
            calls.write(json.dumps(call) + "\n")
        return self.last_id


def main(address: str, calls_file: Path) -> int:
    app = QCoreApplication([sys.argv[0]])
    bus = QDBusConnection.connectToBus(address, "notification-service")
    service = Notifications(calls_file)
    options = QDBusConnection.RegisterOption.ExportAllSlots | QDBusConnection.RegisterOption.ExportAllSignals
    if not (
        bus.registerObject("/org/freedesktop/Notifications", service, options)
        and bus.registerService("org.freedesktop.Notifications")
    ):
        print(f"could not serve: {bus.lastError().message()}", flush=True)
        return 1

    def read_command() -> None:
        line = sys.stdin.readline()
        if not line:
            app.quit()
        elif line.startswith("click "):
            service.ActionInvoked.emit(int(line.split()[1]), "default")

    commands = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    commands.activated.connect(read_command)
    print("ready", flush=True)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
