"""The README's first command on a machine without a display, and dev-setup when apt is busy.

``run-demo`` is run as a user would run it over SSH (no DISPLAY): it must make the demo, start a
virtual screen of its own, say how to see it, open the window there, and leave nothing running
once the window is closed with Ctrl-C. ``dev-setup`` runs against stand-ins for apt-get and
dpkg-query (installing packages for real would change the machine), one of which holds apt's
lock for a while, as another apt would.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import threading
from pathlib import Path
from typing import IO

import pytest

REPO = Path(__file__).resolve().parents[2]
WINDOW_UP = "the window is up"
STARTUP_TIMEOUT_S = 180


class Lines:
    """A process's stderr read on a thread, so that a test can wait for a line with a time limit."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.seen: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        assert process.stderr is not None
        self._reader = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self.seen.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.ended = True  # the process closed its stderr: no line is coming any more
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> str:
        with self._changed:
            self._changed.wait_for(lambda: self.ended or any(text in line for line in self.seen), timeout)
        found = any(text in line for line in self.seen)
        assert found, f"no line with {text!r} within {timeout} s:\n" + "\n".join(self.seen)
        return next(line for line in self.seen if text in line)

    def join(self) -> None:
        self._reader.join(timeout=30)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def headless_environ(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY")}
    environ.update(
        DEPLOYCENTER_DEMO_DIR=str(tmp_path / "demo"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        DEPLOYCENTER_LOG_DIR=str(tmp_path / "log"),
        TMPDIR=str(tmp_path / "tmp"),
        DEPLOYCENTER_SCREEN_SIZE="1280x800",
    )
    (tmp_path / "tmp").mkdir()
    return environ


@pytest.mark.slow
def test_run_demo_without_a_display_opens_the_window_on_a_screen_of_its_own(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        ["bash", "packaging/run-demo"],
        cwd=REPO,
        env=headless_environ(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's job is: Ctrl-C reaches all of it
    )
    lines = Lines(demo)
    try:
        where = lines.wait_for("opens on a virtual screen", STARTUP_TIMEOUT_S)
        display = re.search(r"DISPLAY=:(\d+)", where)
        assert display is not None, where
        vnc = lines.wait_for("VNC viewer at localhost:", STARTUP_TIMEOUT_S)
        port = re.search(r"localhost:(\d+), password (\w+)", vnc)
        assert port is not None, vnc
        with socket.create_connection(("127.0.0.1", int(port.group(1))), timeout=10) as viewer:
            assert viewer.recv(12).startswith(b"RFB 003."), "a VNC server answers there"
        up = lines.wait_for(WINDOW_UP, STARTUP_TIMEOUT_S)
        picture = tmp_path / "cache" / "deploycenter-demo" / "screen.png"
        assert str(picture) in up
        assert png_size(picture) == (1280, 800)
        assert (tmp_path / "demo" / "deploycenter.sqlite3").is_file(), "the demo was made first"
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C in the terminal
        code = demo.wait(timeout=60)
        lines.join()
        assert demo.stderr is not None
        demo.stderr.close()
    assert code == 0, "\n".join(lines.seen)
    assert not Path(f"/tmp/.X{display.group(1)}-lock").exists(), "the virtual screen was stopped"
    assert list((tmp_path / "tmp").iterdir()) == [], "its cookie, password and logs were removed"


def fake_apt(folder: Path, lock_held_for: int) -> Path:
    """apt-get, dpkg-query and sudo stand-ins: openbox is missing, and the lock is held ``lock_held_for`` tries."""
    folder.mkdir()
    scripts = {
        "dpkg-query": 'if [ "${@: -1}" = openbox ]; then exit 1; fi\nprintf "install ok installed"\n',
        "sudo": 'exec "$@"\n',
        "apt-get": (
            f'calls={folder}/calls; echo "$*" >> "$calls"\n'
            f'if [ "$(wc -l < "$calls")" -le {lock_held_for} ]; then\n'
            '  echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2\n'
            "  exit 100\n"
            "fi\n"
        ),
    }
    for name, body in scripts.items():
        path = folder / name
        path.write_text("#!/usr/bin/env bash\n" + body, encoding="utf-8")
        path.chmod(0o755)
    return folder


def dev_setup(tmp_path: Path, lock_held_for: int, wait_seconds: int) -> tuple[subprocess.CompletedProcess[str], Path]:
    fakes = fake_apt(tmp_path / "bin", lock_held_for)
    environ = dict(
        os.environ,
        PATH=f"{fakes}:{os.environ['PATH']}",
        DEPLOYCENTER_APT_LOCK_WAIT=str(wait_seconds),
        DEPLOYCENTER_APT_LOCK_RETRY="1",
    )
    done = subprocess.run(
        ["bash", "packaging/dev-setup"], cwd=REPO, env=environ, capture_output=True, text=True, timeout=120
    )
    return done, fakes / "calls"


def test_dev_setup_waits_for_another_apt_to_release_its_lock(tmp_path: Path) -> None:
    done, calls = dev_setup(tmp_path, lock_held_for=2, wait_seconds=30)
    assert done.returncode == 0, done.stderr
    assert "another apt holds apt's lock (held by process 4242 (apt-get)); waiting for it" in done.stderr
    assert "could not install" not in done.stderr
    tries = calls.read_text(encoding="utf-8").splitlines()
    assert tries[:3] == ["update -qq"] * 3, "tried again until the lock was free"
    assert tries[3].startswith("install ") and tries[3].endswith(" openbox")


def test_dev_setup_gives_up_on_a_lock_held_too_long_and_says_so(tmp_path: Path) -> None:
    done, calls = dev_setup(tmp_path, lock_held_for=1000, wait_seconds=2)
    assert "apt's lock was still held after 2 s; giving up" in done.stderr
    assert "warning: could not install openbox" in done.stderr
    assert "install" not in calls.read_text(encoding="utf-8")
