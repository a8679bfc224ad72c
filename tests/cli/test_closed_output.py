"""A reader that goes away never changes a run: ``deploy-all | head -3``, a closed stderr, SIGPIPE.

Each test runs the real command in a child process whose stdout or stderr is a real pipe that the
test (or ``head``) closes while the run works, or that is closed from the start. The run must go
on to its end, be recorded as it really went (every module deployed, none cancelled), and the
command must exit with the run's exit code, without a traceback anywhere.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from app.engine import operations
from app.engine.context import Location, open_context
from app.engine.read import views
from tests.bundles import write_bundle
from tests.conftest import REPO, child_env

MODULES = 80
LOST = "was lost"  # what the log file says when output could not be written


@dataclass(frozen=True)
class Setup:
    data_dir: Path
    log_dir: Path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "app", "--unattended", "deploy-all", "--workers", "1", *args,
                "--data-dir", str(self.data_dir)]  # fmt: skip

    def env(self) -> dict[str, str]:
        return {**child_env(), "DEPLOYCENTER_LOG_DIR": str(self.log_dir)}

    def log(self) -> str:
        path = self.log_dir / "deploycenter.log"
        return path.read_text() if path.exists() else ""


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    """An environment whose every module waits to be deployed on the new platform."""
    data_dir = tmp_path / "env"
    ctx = operations.init_environment(Location(data_dir), frontends=[str(tmp_path / "fe1"), str(tmp_path / "fe2")])
    try:
        operations.publish(ctx, [write_bundle(tmp_path / "b", f"Mod{i:03d}") for i in range(MODULES)])
        assert operations.upgrade(ctx, "11.19.0").status == "succeeded"
    finally:
        ctx.close()
    yield Setup(data_dir, tmp_path / "log")


def spawn(setup: Setup, *args: str) -> subprocess.Popen[str]:
    """The command with its stdout and stderr on pipes this test holds (closed when done)."""
    return subprocess.Popen(
        setup.command(*args), cwd=REPO, env=setup.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def assert_recorded_truly(setup: Setup) -> None:
    """The run ended by itself, every module deployed, nothing cancelled."""
    ctx = open_context(Location(setup.data_dir))
    try:
        [run] = views.run_summaries(ctx, kinds=("deploy-all",))
        assert run.status == "succeeded", (run.status, run.message)
        assert run.counts.get("deployed") == MODULES and not run.counts.get("cancelled"), run.counts
        assert views.status(ctx).fully_upgraded
    finally:
        ctx.close()


def read_lines(stream: IO[str], count: int) -> list[str]:
    return [stream.readline() for _ in range(count)]


def test_piped_into_head_the_run_finishes_and_exits_with_its_own_code(setup: Setup) -> None:
    command = " ".join(f"'{word}'" for word in setup.command())
    done = subprocess.run(
        ["bash", "-c", f"{command} 2>&1 | head -3; exit ${{PIPESTATUS[0]}}"],
        cwd=REPO,
        env=setup.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(done.stdout.splitlines()) == 3 and done.stdout.startswith("run "), done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert_recorded_truly(setup)
    assert LOST in setup.log()  # the reader really left while the run worked


def test_a_closed_stderr_only_silences_the_progress(setup: Setup) -> None:
    with spawn(setup) as child:
        assert child.stderr is not None and child.stdout is not None
        assert read_lines(child.stderr, 2)[1].startswith("[1/")
        child.stderr.close()  # the progress's reader goes away after the first module
        out = child.stdout.read()
        assert child.wait(timeout=300) == 0, out
    assert out.startswith("run ") and "succeeded" in out.splitlines()[0], out
    assert_recorded_truly(setup)
    assert LOST in setup.log()


def test_a_closed_stdout_loses_the_json_document_and_nothing_else(setup: Setup) -> None:
    with spawn(setup, "--json") as child:
        assert child.stderr is not None and child.stdout is not None
        child.stdout.close()  # no one will read the document
        err = child.stderr.read()
        assert child.wait(timeout=300) == 0, err
    assert "Traceback" not in err and "error" not in err, err
    assert_recorded_truly(setup)
    assert LOST in setup.log()


def test_started_with_stdout_and_stderr_closed_the_run_is_done_and_recorded(setup: Setup) -> None:
    command = " ".join(f"'{word}'" for word in setup.command("--json"))
    done = subprocess.run(
        ["bash", "-c", f"exec >&- 2>&-; {command}"], cwd=REPO, env=setup.env(), timeout=300, check=False
    )
    assert done.returncode == 0
    assert_recorded_truly(setup)


def test_sigpipe_does_not_stop_a_run(setup: Setup) -> None:
    with spawn(setup) as child:
        assert child.stderr is not None and child.stdout is not None
        assert read_lines(child.stderr, 2)[1].startswith("[1/")
        child.send_signal(signal.SIGPIPE)
        err = child.stderr.read()
        out = child.stdout.read()
        assert child.wait(timeout=300) == 0, out + err
    assert f"[{MODULES}/{MODULES}]" in err and "succeeded" in out, out + err
    assert_recorded_truly(setup)
