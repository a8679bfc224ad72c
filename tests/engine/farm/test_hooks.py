"""Running a front-end's hook: its environment, its time limit over its whole process group, its output."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from app.engine.errors import BadInputError
from app.engine.frontend import hooks
from app.engine.frontend.hooks import Phase, check_command, run_hook


def test_a_hook_sees_its_front_end_run_and_phase(tmp_path: Path) -> None:
    done = run_hook(
        'echo "$DEPLOYCENTER_FRONTEND/$DEPLOYCENTER_RUN/$DEPLOYCENTER_PHASE"; echo oops >&2; exit 3',
        frontend="web 2",
        run_id=17,
        phase=Phase.DRAIN,
        limit=10,
    )
    assert (done.exit_code, done.ok, done.timed_out) == (3, False, False)
    assert done.output.splitlines() == ["web 2/17/drain", "oops"]
    assert done.problem("drain command of front-end web 2") == "drain command of front-end web 2 failed (exit 3): oops"


def test_a_hook_that_hangs_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    began = time.monotonic()
    done = run_hook(
        f"sleep 300 & echo $! > {pids}; trap '' TERM; sleep 300",
        frontend="web1",
        run_id=1,
        phase=Phase.UNDRAIN,
        limit=0.5,
    )
    assert time.monotonic() - began < hooks.KILL_GRACE + 5
    assert done.timed_out and not done.ok and done.exit_code is None
    assert done.problem("undrain command of front-end web1") == (
        "undrain command of front-end web1 did not finish within 0.5 s and was stopped"
    )
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child), "the hook's background child outlived it"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return status not in ("Z", "X")


def test_a_hook_s_output_is_cut_to_its_first_and_last_part() -> None:
    done = run_hook(
        "echo FIRST; head -c 1000000 /dev/zero | tr '\\0' x; echo; echo LAST",
        frontend="web1",
        run_id=None,
        phase=Phase.HEALTH,
        limit=20,
    )
    assert done.ok
    assert len(done.output) < hooks.OUTPUT_HEAD + hooks.OUTPUT_TAIL + 100
    assert done.output.startswith("FIRST\n") and done.output.rstrip().endswith("LAST")
    assert "bytes left out" in done.output


def test_a_hook_that_cannot_start_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, "SHELL", "/nonexistent/sh")
    done = run_hook("true", frontend="web1", run_id=None, phase=Phase.DRAIN, limit=5)
    assert not done.ok and done.error is not None
    assert done.problem("drain command of front-end web1") == (
        f"drain command of front-end web1 could not start: {done.error}"
    )


@pytest.mark.parametrize(
    ("command", "fragment"),
    [("", "needs a command"), ("case x in", "not a command the shell can run"), ("a\x00b", "NUL")],
)
def test_a_command_the_shell_cannot_run_is_refused(command: str, fragment: str) -> None:
    with pytest.raises(BadInputError, match=fragment):
        check_command(command, "--drain-cmd")


def test_a_command_the_shell_parses_is_kept_as_given() -> None:
    assert check_command("  curl -fsS http://web1/health || exit 1 ", "--health-cmd") == (
        "curl -fsS http://web1/health || exit 1"
    )
