"""A run killed -9 while writing a release leaves work files; the next command removes them.

The run (``tests/faults/stalled_run.py``) stops for good once every front-end holds its second
module's release under a staging name and the next ``CURRENT`` and ``config.json`` under temp
names; it is killed there with SIGKILL. The next command settles the dead run: it removes those
work files on every front-end, local or SSH (the suite's own sshd), keeps every complete release
(the first module's, staged by a stage run, that a later Deploy All switches), and ``verify``
then finds nothing wrong. A leftover no recovery removed (a front-end that did not answer) is
reported by ``verify`` as a drift of its own, and ``prune`` removes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.context import Location
from app.engine.frontend.layout import is_leftover_path
from app.engine.frontend.ssh.options import CONFIG_ENV
from tests.bundles import write_bundle
from tests.conftest import REPO, Cli, child_env
from tests.sshd import ONE_WORKER, farm, start_or_skip

pytestmark = ONE_WORKER  # its sshd servers' time limits want the CPU to themselves

MODULES = ["Alpha", "Beta", "Gamma"]
STALL_AT = 2  # the second module: the first one's batch ends as usual


@dataclass(frozen=True)
class Farmed:
    data_dir: Path
    folders: list[Path]  # what each front-end is, read directly


@pytest.fixture(params=["local", "ssh"])
def farmed(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Farmed]:
    """Two front-ends of one kind; every module live on 11.18.1 and prepared for 11.19.0."""
    data_dir = tmp_path / "env"
    if request.param == "local":
        folders = [tmp_path / "fe1", tmp_path / "fe2"]
        yield prepared(data_dir, folders, [str(folder) for folder in folders], tmp_path)
        return
    with farm() as made:
        monkeypatch.setenv(CONFIG_ENV, str(made.config))
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        servers = [start_or_skip(made, f"web{n}") for n in (1, 2)]
        folders = [server.folder("front") for server in servers]
        yield prepared(data_dir, folders, [s.url(f) for s, f in zip(servers, folders, strict=True)], tmp_path)


def prepared(data_dir: Path, folders: list[Path], targets: list[str], tmp_path: Path) -> Farmed:
    ctx = operations.init_environment(Location(data_dir), frontends=targets)
    try:
        assert operations.publish(ctx, [write_bundle(tmp_path / "b", name) for name in MODULES]).status == "succeeded"
        assert operations.upgrade(ctx, "11.19.0").status == "succeeded"
    finally:
        ctx.close()
    return Farmed(data_dir, folders)


def work_files(folder: Path) -> list[str]:
    """Every work file of the deployer's under a front-end folder: ``<module>/<path>``."""
    found = []
    for module in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(module.rglob("*")):
            relative = path.relative_to(module).as_posix()
            if is_leftover_path(relative):
                found.append(f"{module.name}/{relative}")
    return found


def kill_while_writing(farmed: Farmed, kind: str, tmp_path: Path) -> None:
    """Start the run, wait until every front-end holds a half-written release, SIGKILL it."""
    marker = tmp_path / "stalled"
    command = [sys.executable, "-m", "tests.faults.stalled_run", str(farmed.data_dir), str(marker), kind, str(STALL_AT)]
    with subprocess.Popen(command, cwd=REPO, env=child_env(), stderr=subprocess.PIPE, text=True) as child:
        deadline = time.monotonic() + 120
        while len(marker.read_text().splitlines() if marker.exists() else []) < len(farmed.folders):
            assert child.poll() is None, child.communicate()[1]
            assert time.monotonic() < deadline, "the run never reached its second module"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    for folder in farmed.folders:
        left = half_written(folder)
        assert any("/releases/.staging-" in path for path in left), left  # the kill really left some
        assert any("/.CURRENT.tmp-" in path for path in left), left


def half_written(folder: Path) -> list[str]:
    """The work files the kill left. Over SSH the remote ``tar`` unpacks the last of the cut
    archive once the kill ends the connection, then fails on its end: waited for here."""
    deadline = time.monotonic() + 30
    while True:
        left = work_files(folder)
        if any("/.CURRENT.tmp-" in path for path in left) or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.mark.parametrize("kind", ["deploy-all", "stage"])
def test_the_next_command_removes_what_a_killed_run_left(
    farmed: Farmed, kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kill_while_writing(farmed, kind, tmp_path)
    cli = Cli(farmed.data_dir, capsys)
    verified = cli("verify")  # the first command after the kill settles the dead run
    assert verified.code == 0, verified.out + verified.err
    for folder in farmed.folders:
        assert work_files(folder) == []
    [run] = [r for r in cli("runs", "--json").json()["runs"] if r["kind"] == kind]
    assert run["status"] == "interrupted"
    shown = cli("run", str(run["id"]), "--json").json()["run"]
    assert "leftover work file(s) removed" in shown["message"], shown["message"]
    first = [i for i in shown["items"] if i["status"] in ("deployed", "staged")]
    assert len(first) == 1, shown["items"]  # the first module's batch ended before the kill
    if kind == "stage":  # its staged release is still wanted: the next Deploy All switches it
        for folder in farmed.folders:
            releases = sorted(p.name for p in (folder / first[0]["module"] / "releases").iterdir())
            assert len(releases) == 2 and all("11.19.0" in r or "11.18.1" in r for r in releases), releases

    done = cli("deploy-all", "--json")
    assert done.code == 0, done.out + done.err
    assert cli("verify").code == 0
    for folder in farmed.folders:
        assert work_files(folder) == []


def test_verify_reports_a_leftover_as_a_drift_of_its_own(farmed: Farmed, capsys: pytest.CaptureFixture[str]) -> None:
    cli = Cli(farmed.data_dir, capsys)
    assert cli("deploy-all").code == 0
    assert cli("verify").code == 0
    temp = farmed.folders[1] / MODULES[0] / ".CURRENT.tmp-0123456789ab"
    temp.write_text("v9\n")  # as a killed command whose run no recovery reached would leave it
    found = cli("verify", "--json")
    assert found.code == 1, found.out
    [drift] = found.json()["drift"]
    assert (
        drift["module"] == MODULES[0]
        and drift["problem"] == "leftover from an interrupted run: .CURRENT.tmp-0123456789ab"
    )
    assert os.fspath(farmed.folders[1]) in drift["frontend"]
    assert temp.exists()  # verify only reads
    listed = cli("prune", "--dry-run", "--json").json()["leftovers"]
    assert [(left["module"], left["path"]) for left in listed] == [(MODULES[0], temp.name)]
    assert temp.exists()
    pruned = cli("prune")
    assert pruned.code == 0 and f"{MODULES[0]}: {temp.name}" in pruned.out, pruned.out
    assert not temp.exists()
    assert cli("verify").code == 0
