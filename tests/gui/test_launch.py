"""Starting the window where it cannot open: one clear line and exit code 4, never a core dump."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.gui import launch, preflight
from tests.conftest import REPO, child_env


def test_no_display_is_one_line_and_exit_4(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")

    assert launch.run_gui(["--data-dir", "/nowhere"]) == 4

    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no display" in err and "--unattended" in err


def test_missing_qt_libraries_name_the_packages(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    for name in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(preflight, "_missing_library", lambda name: "libxcb-icccm.so.4" if name else None)

    assert launch.run_gui([]) == 4

    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4" in err and "libxcb-cursor0" in err and "--unattended" in err


@pytest.mark.parametrize(
    ("env", "platform", "problem"),
    [
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({}, "win32", False),
        ({}, "darwin", False),
        ({"QT_QPA_PLATFORM": "wayland"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ],
)
def test_which_platforms_need_a_display(env: dict[str, str], platform: str, problem: bool) -> None:
    assert (preflight.display_problem(env, platform) is not None) == problem


def test_bad_options_are_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert launch.run_gui(["--data-dir"]) == 2
    assert "expected one argument" in capsys.readouterr().err


def test_the_real_entry_point_without_a_display(tmp_path: object) -> None:
    env = child_env()
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 4
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0
