"""The unattended path never needs a display and never loads Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, child_env


def test_unattended_commands_do_not_import_qt(tmp_path: Path) -> None:
    env = child_env()
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    base = [sys.executable, "-X", "importtime", "-m", "app", "--unattended"]
    data = ["--data-dir", str(tmp_path / "env")]
    for command in (["init", "--demo"], ["status"], ["deploy-all", "--dry-run"]):
        done = subprocess.run(base + command + data, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        imported = [line for line in done.stderr.splitlines() if "import time:" in line]
        assert imported, "importtime printed nothing"
        assert not [line for line in imported if "PySide6" in line or "shiboken" in line], command


def test_read_only_commands_do_not_import_the_deploy_machinery(tmp_path: Path) -> None:
    """Importing is most of a ``status`` at 100,000 modules: the views need no compiler or deployer."""
    data = ["--data-dir", str(tmp_path / "env")]
    base = [sys.executable, "-X", "importtime", "-m", "app", "--unattended"]
    env = child_env()
    assert (
        subprocess.run([*base, "init", "--demo", *data], cwd=REPO, env=env, capture_output=True, timeout=120).returncode
        == 0
    )
    for command in (["status"], ["modules"], ["runs"], ["deploy-all", "--dry-run", "--json"]):
        done = subprocess.run(base + command + data, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        modules = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if "import time:" in line}
        heavy = {
            "app.engine.operations",
            "app.engine.frontend.farm",
            "app.engine.kinds.base",
            "app.engine.compiler",
            "multiprocessing",
        }
        assert not modules & heavy, (command, sorted(modules & heavy))
