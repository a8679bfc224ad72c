"""Locks and recovery across processes: a run in one process, commands from another."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bundles import write_bundle
from tests.conftest import REPO, Cli, child_env


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"holder exited early: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("holder never reached its first module")
        time.sleep(0.02)


def start_holder(data_dir: Path, marker: Path, workers: int = 1) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.holder", str(data_dir), str(marker), "--workers", str(workers)],
        cwd=REPO,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def prepared(cli: Cli, tmp_path: Path, backend_env: str | None) -> Cli:
    """On SQLite and on PostgreSQL (through DEPLOYCENTER_DATABASE_URL, which children inherit)."""
    bundles = tmp_path / "bundles"
    assert cli("init", "--frontend", str(tmp_path / "fe1"), "--frontend", str(tmp_path / "fe2")).code == 0
    paths = [write_bundle(bundles, f"Mod{i:02d}", application="Big") for i in range(8)]
    paths.append(write_bundle(bundles, "Solo", application="Other", config={"Level": "1"}))
    assert cli("publish", *map(str, paths)).code == 0
    assert cli("upgrade", "--to", "11.19.0").code == 0
    assert (cli.data_dir / "deploycenter.sqlite3").exists() == (backend_env is None)
    cli("delete", "Solo")  # Solo is published again below, so it is outside the next run
    assert cli("publish", str(paths[-1])).code == 0
    return cli


def test_a_run_in_another_process_refuses_its_modules_and_allows_others(prepared: Cli, tmp_path: Path) -> None:
    cli = prepared
    marker = tmp_path / "held"
    holder = start_holder(cli.data_dir, marker)
    try:
        wait_for(marker, holder)
        refused = cli.process("apply-config", "Mod03", "Anything=1")
        assert refused.code == 3, refused
        assert refused.err.count("\n") == 1
        assert "run 1" not in refused.err and "(deploy-all) started by" in refused.err
        assert cli.process("delete", "Mod00").code == 3
        status = cli.process("status", "--json").json()
        assert status["active_run"]["kind"] == "deploy-all"
        assert set(status["active_run"]) >= {"id", "kind", "started_by", "started_at"}
        assert cli.process("deploy-all").code == 3
        allowed = cli.process("apply-config", "Solo", "Level=2")
        assert allowed.code == 0, allowed
    finally:
        marker.with_name(marker.name + ".go").write_text("")
        out, err = holder.communicate(timeout=120)
    assert holder.returncode == 0, err
    assert out.strip() == "succeeded"
    assert cli.process("delete", "Mod00").code == 0


def test_killed_run_is_interrupted_and_the_next_deploy_all_completes(prepared: Cli, tmp_path: Path) -> None:
    cli = prepared
    marker = tmp_path / "held"
    holder = start_holder(cli.data_dir, marker, workers=2)
    wait_for(marker, holder)
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate(timeout=30)

    runs = cli.process("runs", "--json").json()["runs"]
    assert runs[0]["kind"] == "deploy-all" and runs[0]["status"] == "interrupted"
    detail = cli.process("run", str(runs[0]["id"]), "--json").json()["run"]
    assert {i["status"] for i in detail["items"]} <= {"deployed", "failed", "cancelled", "skipped"}
    assert cli.process("status", "--json").json()["active_run"] is None
    assert_no_incomplete_release(tmp_path / "fe1", tmp_path / "fe2")

    again = cli.process("deploy-all", "--json")
    assert again.code == 0, again.err
    items = again.json()["run"]["items"]
    assert {i["module"] for i in items if i["status"] == "deployed"} >= {"Mod07"}
    assert cli.process("verify").code == 0
    assert cli.process("status", "--json").json()["fully_upgraded"] is True


def assert_no_incomplete_release(*frontends: Path) -> None:
    for frontend in frontends:
        for current in frontend.glob("*/CURRENT"):
            release = current.parent / "releases" / current.read_text().strip()
            assert (release / ".release.json").is_file(), f"{current} points to an incomplete release"
