"""Fixtures shared by every test: an isolated data dir, and the unattended CLI in-process or as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.pg import backend_env, database_url, postgres_cluster, postgres_url  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test may touch the user's real data dir or inherit an environment override."""
    for name in ("DEPLOYCENTER_DATA_DIR", "DEPLOYCENTER_DATABASE_URL", "DEPLOYCENTER_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    yield


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "env"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """The unattended CLI on one data dir, run in this process (fast) or in a child process."""

    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data_dir = data_dir
        self._capsys = capsys

    def __call__(self, *args: str) -> Result:
        from app.__main__ import main

        self._capsys.readouterr()
        code = main(["--unattended", *args, "--data-dir", str(self.data_dir)])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def spawn(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=REPO,
            **kwargs,
        )

    def process(self, *args: str, timeout: float = 120) -> Result:
        done = subprocess.run(
            self.command(*args), capture_output=True, text=True, env=child_env(), cwd=REPO, timeout=timeout
        )
        return Result(done.returncode, done.stdout, done.stderr)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "app", "--unattended", *args, "--data-dir", str(self.data_dir)]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("QT_QPA_PLATFORM", None)
    return env


@pytest.fixture
def cli(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(data_dir, capsys)
