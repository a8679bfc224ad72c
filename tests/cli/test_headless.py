"""The unattended path never needs a display and never loads Qt."""

from __future__ import annotations

import json
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


def test_a_command_run_as_the_program_ends_at_once_with_its_whole_output_and_exit_code(tmp_path: Path) -> None:
    """The interpreter's teardown is skipped (a handler registered to run at exit never runs), and
    nothing the command wrote is lost: its JSON document, its error line, its exit code. Under a
    profiler or a coverage tracer the process ends the usual way, so that they write their data."""
    data = str(tmp_path / "env")
    program = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('teardown ran', file=sys.stderr))\n"
        "sys.argv = ['deploycenter', '--unattended', *sys.argv[1:]]\n"
        "from app.__main__ import main\n"
        "sys.exit(main())\n"
    )

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", program, *command, "--data-dir", data, "--json"],
            cwd=REPO,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    missing = run("status")
    assert missing.returncode == 4 and "no environment" in missing.stderr.lower()
    assert "error" in json.loads(missing.stdout)
    created = run("init")
    assert created.returncode == 0, created.stderr[-2000:]
    status = run("status")
    assert status.returncode == 0, status.stderr[-2000:]
    assert json.loads(status.stdout)["frontends"], "the whole document came out"
    assert "teardown ran" not in missing.stderr + created.stderr + status.stderr
    traced = "import sys\nsys.settrace(lambda *args: None)\n" + program  # as coverage runs it
    done = subprocess.run(
        [sys.executable, "-c", traced, "status", "--data-dir", data], cwd=REPO, env=child_env(), capture_output=True
    )
    assert done.returncode == 0 and b"teardown ran" in done.stderr, "a tracer writes its findings at exit"
    from app.__main__ import main

    assert main(["--unattended", "status", "--data-dir", data]) == 0  # a caller in the same process gets it back
