"""A real D-Bus session bus for the tests, and a notification service on it that records its calls.

``SessionBus`` runs Debian's ``dbus-daemon`` with a throwaway configuration: it listens on a
socket in its own temporary folder, lets only this user in, and lets any connection own any name.
``NotificationService`` runs ``tests/notification_service.py`` in a process of its own: it owns
``org.freedesktop.Notifications`` on that bus, answers ``Notify`` as a desktop's service does
(only with the specification's exact argument types), and writes each call it took as a line of
JSON; it can also say the user clicked a notice (``ActionInvoked``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 20
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class SessionBus:
    """One dbus-daemon; ``address`` is what DBUS_SESSION_BUS_ADDRESS would say."""

    def __init__(self) -> None:
        program = shutil.which("dbus-daemon")
        if program is None:
            pytest.fail("dbus-daemon is missing: install Debian's dbus-daemon (packaging/dev-setup does)")
        self.folder = Path(tempfile.mkdtemp(prefix="deploycenter-bus-"))
        config = self.folder / "session.conf"
        config.write_text(BUS_CONFIG.format(folder=self.folder), encoding="utf-8")
        self.process = subprocess.Popen(
            [program, f"--config-file={config}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # it says it cannot raise its file limit as a user: not ours
            text=True,
        )
        assert self.process.stdout is not None
        self.address = self.process.stdout.readline().strip()
        if not self.address:
            self.stop()
            pytest.fail("dbus-daemon printed no address")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class NotificationService:
    """The recording service's process, and the file of calls it took."""

    process: subprocess.Popen[str]
    calls_file: Path

    @classmethod
    def start(cls, address: str, folder: Path) -> NotificationService:
        calls = folder / "notifications.jsonl"
        process = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "notification_service.py"), address, str(calls)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        service = cls(process, calls)
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":  # it owns the name once it says so
            service.stop()
            pytest.fail("the notification service did not start")
        return service

    def calls(self) -> list[dict[str, Any]]:
        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text(encoding="utf-8").splitlines()]

    def click(self, notice_id: int) -> None:
        """The user clicks notice ``notice_id``: the service emits ``ActionInvoked(id, "default")``."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"click {notice_id}\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()  # its stdin closing is what ends it
        self.process.wait(timeout=10)
