"""A whole environment on three SSH front-ends when one server goes wrong in the middle of it.

Each server is its own sshd on 127.0.0.1 (``tests/sshd.py``). The fault is set off at the start
of the run's second batch (after the planner read every front-end and a first module went live
everywhere), so that the run is really under way when it happens. What each server holds is read
from its folders directly. The time limits come from the operator's environment variables, as
they would for the command line.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from app.engine import operations
from app.engine.errors import BadInputError
from app.engine.frontend import farm
from app.engine.frontend.ssh.options import COMMAND_TIMEOUT_ENV, CONNECT_TIMEOUT_ENV, Limits, limits_from_env
from app.engine.read import views
from tests.conftest import REPO, child_env
from tests.engine.frontend.ssh_farm_kit import NAMES, SshEnv, make_env
from tests.sshd import ONE_WORKER, Farm

pytestmark = ONE_WORKER

BROKEN = 1  # the server that goes wrong: web2
RUN_BOUND = 300  # seconds: far above what the small limits allow; only "the run ended at all"
HUNG = r"no progress for \d+ s|stopped answering|within \d+ s \(connect timeout\)"


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` with its bytes (None for a folder)."""
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))
    }


def leftovers(folder: Path) -> list[str]:
    """Staging folders and temp files a failed step could have left behind."""
    return [name for name in tree(folder) if ".staging-" in name or ".tmp-" in name]


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> Limits:
    # A healthy server answers well within 8 s even on a busy machine (its sync waits for every
    # other writer of the disk); a frozen one runs into it after 8 s.
    monkeypatch.setenv(CONNECT_TIMEOUT_ENV, "3")
    monkeypatch.setenv(COMMAND_TIMEOUT_ENV, "8")
    return limits_from_env()


def on_batch(monkeypatch: pytest.MonkeyPatch, number: int, fault: Callable[[], object]) -> list[int]:
    """Set off ``fault`` once, as the run's ``number``-th batch starts; the calls counted so far."""
    calls = [0]
    real = farm.deploy_releases

    def deploy_releases(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == number:
            fault()
        return real(*args, **kwargs)

    monkeypatch.setattr(farm, "deploy_releases", deploy_releases)
    return calls


def deploy_all_bounded(env: SshEnv) -> operations.RunOutcome:
    """Deploy All, one worker (batches in turn), on a thread: fails the test if it never returns."""
    done: list[operations.RunOutcome] = []
    problem: list[BaseException] = []

    def work() -> None:
        try:
            done.append(operations.deploy_all(env.ctx, workers=1))
        except BaseException as error:  # handed to the test
            problem.append(error)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(RUN_BOUND)
    assert not thread.is_alive(), f"the Deploy All did not end within {RUN_BOUND} s"
    if problem:
        raise problem[0]
    return done[0]


def split(env: SshEnv, run_id: int, skipped: int = 0) -> tuple[dict[str, str], list[str], list[str]]:
    """The run's failed modules with their reasons, the modules it deployed, and those blocked by
    a failed producer; the rest (``skipped`` of them) must be skipped as already live."""
    items = views.run_detail(env.ctx, run_id).items
    failed = {item.module: item.reason or "" for item in items if item.status == "failed"}
    deployed = [item.module for item in items if item.status == "deployed"]
    blocked = [item.module for item in items if item.status == "blocked"]
    passed = [item for item in items if item.status == "skipped" and item.reason == "already-deployed"]
    seen = [(i.module, i.status, i.reason) for i in items]
    assert len(failed) + len(deployed) + len(blocked) + len(passed) == len(items), seen
    assert len(passed) == skipped, seen
    return failed, deployed, blocked


def assert_all_or_none(env: SshEnv, before: dict[str, list[str | None]], failed: dict[str, str]) -> None:
    for name in NAMES:
        live = env.currents(name)
        if name in failed:  # switched nowhere: every front-end keeps what it had
            assert live == before[name], (name, live, before[name])
        else:
            assert len(set(live)) == 1 and "11.19.0" in str(live[0]), (name, live)


def assert_again_does_only_what_is_missing(env: SshEnv, missing: list[str]) -> None:
    again = deploy_all_bounded(env)
    assert again.status == "succeeded"
    _failed, deployed, _blocked = split(env, again.run_id, skipped=len(NAMES) - len(missing))
    assert sorted(deployed) == sorted(missing)
    assert views.verify(env.ctx).drift == ()
    for name in NAMES:
        live = env.currents(name)
        assert len(set(live)) == 1 and "11.19.0" in str(live[0]), (name, live)


# ---------------------------------------------------------------- the operator's limits


def test_the_limits_come_from_the_environment() -> None:
    limits = limits_from_env({CONNECT_TIMEOUT_ENV: "2.5", COMMAND_TIMEOUT_ENV: " 30 "})
    assert (limits.connect_timeout, limits.command_timeout) == (2.5, 30)
    assert limits_from_env({}) == Limits()
    for bad in ("", "abc", "0", "-3", "nan", "inf", "1e9"):
        if bad:
            with pytest.raises(BadInputError, match=rf"^{COMMAND_TIMEOUT_ENV}=.*seconds above 0"):
                limits_from_env({COMMAND_TIMEOUT_ENV: bad})


def test_a_bad_limit_is_one_line_and_exit_2_and_stores_no_run(ssh_env: SshEnv) -> None:
    ssh_env.ctx.close()
    base = [sys.executable, "-m", "app", "--unattended", "--data-dir", str(ssh_env.data_dir)]
    env = {**child_env(), CONNECT_TIMEOUT_ENV: "soon"}
    done = subprocess.run([*base, "deploy-all"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"deploycenter: error: {CONNECT_TIMEOUT_ENV}='soon': give a number of seconds above 0 and at most 86400"
    ]
    runs = subprocess.run(
        [*base, "runs", "--json"], cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=120
    )
    assert runs.returncode == 0 and "deploy_all" not in runs.stdout.replace("-", "_"), runs.stdout


# ---------------------------------------------------------------- a frozen server


def test_a_server_frozen_during_a_deploy_all_fails_its_modules_and_the_rest_stays_as_it_was(
    ssh_env: SshEnv, small_limits: Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = ssh_env.everything()
    server = ssh_env.servers[BROKEN]
    with ExitStack() as frozen:
        calls = on_batch(monkeypatch, 2, lambda: frozen.enter_context(server.frozen()))
        run = deploy_all_bounded(ssh_env)  # with the default limits this would wait for minutes
        assert calls[0] >= 2, "the fault never went off"
        assert run.status == "failed"
        failed, deployed, blocked = split(ssh_env, run.run_id)
        assert deployed == [NAMES[0]] and blocked == []  # the first batch, before the freeze
        assert sorted(failed) == sorted(NAMES[1:])
        for reason in failed.values():
            assert f"ssh://web2{ssh_env.folders[BROKEN]}" in reason, reason
            assert "ssh://web1" not in reason and "ssh://web3" not in reason, reason
            assert re.search(HUNG, reason), reason
        assert_all_or_none(ssh_env, before, failed)
    # thawed (the frozen sshd is gone): the same server comes back on its port, with its key
    server.start()  # what the frozen batch wrote is under staging names, cleared by the next stage
    assert_again_does_only_what_is_missing(ssh_env, list(failed))
    assert leftovers(ssh_env.folders[BROKEN]) == []


# ---------------------------------------------------------------- a changed host key


def test_a_changed_host_key_fails_that_servers_modules_and_nothing_is_written_there(
    ssh_env: SshEnv, ssh_farm: Farm, small_limits: Limits
) -> None:
    before = ssh_env.everything()
    server = ssh_env.servers[BROKEN]
    untouched = tree(ssh_env.folders[BROKEN])
    server.new_host_key()
    server.restart()  # the farm's known_hosts still holds the old key
    run = deploy_all_bounded(ssh_env)
    assert run.status == "failed"
    failed, deployed, blocked = split(ssh_env, run.run_id)
    # Mod00 fails there, so it goes live nowhere, and its consumers wait for it
    assert (deployed, list(failed), sorted(blocked)) == ([], [NAMES[0]], sorted(NAMES[1:]))
    for reason in failed.values():
        assert f"ssh://web2{ssh_env.folders[BROKEN]}" in reason, reason
        assert f"the host key of 127.0.0.1 (port {server.port}) has CHANGED" in reason, reason
    assert tree(ssh_env.folders[BROKEN]) == untouched
    assert "Accepted publickey" not in server.log().split("Server listening on")[-1]  # never logged in
    assert ssh_env.everything() == before  # the other servers too are as they were
    ssh_farm.write_client_files()  # the operator checked the new key and trusts it
    assert_again_does_only_what_is_missing(ssh_env, NAMES)


# ---------------------------------------------------------------- a remote disk that fills up


def _mount_small_tmpfs(folder: Path, mounted: list[Path]) -> None:
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], check=False, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {done.stderr.strip() or done.returncode}")
    mounted.append(folder)


@pytest.fixture
def small_disk_env(ssh_farm: Farm, tmp_path: Path) -> Iterator[SshEnv]:
    """web2's front-end folder is a 4 MB tmpfs: enough for the first release of every module."""
    mounted: list[Path] = []
    try:
        env = make_env(ssh_farm, tmp_path, lambda folders: _mount_small_tmpfs(folders[BROKEN], mounted))
        try:
            yield env
        finally:
            env.ctx.close()
    finally:
        for folder in mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of the filesystem under ``folder``; the filler file."""
    filler = folder / "filler.bin"
    handle = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for size in (1 << 16, 512, 1):
            try:
                while True:
                    os.write(handle, b"\0" * size)
            except OSError as error:
                assert error.errno == errno.ENOSPC, error
    finally:
        os.close(handle)
    assert os.statvfs(folder).f_bavail == 0
    return filler


def test_a_remote_disk_that_fills_up_mid_run_fails_its_modules_and_leaves_nothing_half_written(
    small_disk_env: SshEnv, small_limits: Limits, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = small_disk_env
    before = env.everything()
    folder = env.folders[BROKEN]
    filled: list[Path] = []
    calls = on_batch(monkeypatch, 2, lambda: filled.append(fill(folder)))
    run = deploy_all_bounded(env)
    assert calls[0] >= 2 and filled, "the fault never went off"
    assert run.status == "failed"
    failed, deployed, blocked = split(env, run.run_id)
    assert deployed == [NAMES[0]] and blocked == []
    assert sorted(failed) == sorted(NAMES[1:])
    for reason in failed.values():
        assert f"ssh://web2{folder}" in reason and "disk full" in reason, reason
    assert_all_or_none(env, before, failed)
    assert leftovers(folder) == []  # nothing half-written: no staging folder, no temp file
    for name in failed:  # and no new release either, complete or not
        assert sorted(p.name for p in (folder / name / "releases").iterdir()) == [str(before[name][BROKEN])]
    filled[0].unlink()  # the operator made room
    assert_again_does_only_what_is_missing(env, list(failed))
