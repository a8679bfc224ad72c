"""Big Deploy All runs deploy their batches in worker processes; small ones, and broken pools, do not."""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.engine import operations
from app.engine.read import views
from app.engine.runs import pool as worker_processes
from app.engine.runs.pool import ENV_PROCESSES, WorkerPool, process_count
from tests.conftest import REPO, child_env
from tests.engine.envkit import Kit, make_kit
from tests.faults.scenery import frontend_problems, history_problems
from tests.faults.test_corrupt_artifact import prepared_artifact
from tests.processes import HAS_PROC, wait_until_gone


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(tmp_path, frontends=2)
    yield k
    k.ctx.close()


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[WorkerPool]:
    """Every WorkerPool a run makes, with processes for runs of any size."""
    monkeypatch.setattr(worker_processes, "MIN_MODULES", 1)
    monkeypatch.setenv(ENV_PROCESSES, "2")
    made: list[WorkerPool] = []
    original = WorkerPool.__init__

    def spy(self: WorkerPool, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(WorkerPool, "__init__", spy)
    return made


def test_how_many_processes_a_run_gets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    monkeypatch.delenv(ENV_PROCESSES, raising=False)
    assert process_count(worker_processes.MIN_MODULES) == 4
    assert process_count(worker_processes.MIN_MODULES - 1) == 0  # small runs stay in one process
    for value, expected in (("3", 3), ("1", 0), ("0", 0), ("many", 0)):
        monkeypatch.setenv(ENV_PROCESSES, value)
        assert process_count(10_000) == expected
    monkeypatch.delenv(ENV_PROCESSES)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert process_count(10_000) == 0


def test_a_deploy_all_in_worker_processes_fails_only_the_damaged_module(kit: Kit, pools: list[WorkerPool]) -> None:
    names = [f"Mod{i:02d}" for i in range(40)]
    kit.publish(*(kit.bundle(name) for name in names), kit.bundle("Damaged"))
    operations.upgrade(kit.ctx, "11.19.0")
    stored = kit.ctx.artifacts.path(prepared_artifact(kit, "Damaged"))
    stored.write_bytes(stored.read_bytes()[:100])

    run = operations.deploy_all(kit.ctx, workers=2)
    assert [pool.processes for pool in pools] == [2, 2, 2], "publish, upgrade and Deploy All: pools that never broke"
    items = {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, run.run_id).items}
    status, reason = items.pop("Damaged")
    assert status == "failed" and "corrupt" in (reason or "")  # the child's error, carried back whole
    assert set(items.values()) == {("deployed", None)}
    for frontend in kit.frontends:
        assert all("11.19.0" in (frontend / name / "CURRENT").read_text() for name in names)
    assert frontend_problems(kit.frontends) == [] and history_problems(kit.ctx, kit.frontends) == []


def test_without_worker_processes_the_run_deploys_in_its_own(
    kit: Kit, pools: list[WorkerPool], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_pool(*args: object, **kwargs: object) -> None:
        raise OSError(38, "Function not implemented")  # what a sandbox without /dev/shm answers

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    kit.publish(*(kit.bundle(f"Mod{i:02d}") for i in range(8)))
    operations.upgrade(kit.ctx, "11.19.0")
    with caplog.at_level(logging.WARNING, logger=worker_processes.__name__):
        assert operations.deploy_all(kit.ctx).status == "succeeded"
    assert [pool.processes for pool in pools] == [0, 0, 0]
    assert "worker processes are not available: [Errno 38] Function not implemented" in caplog.text
    assert views.status(kit.ctx).fully_upgraded


@pytest.mark.skipif(not HAS_PROC, reason="reads processes from /proc")
def test_a_busy_deploy_process_exits_when_its_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.engine.busy_pool"], stdout=subprocess.PIPE, text=True, env=child_env(), cwd=REPO
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        assert not wait_until_gone({child}, 5), "the child went on after its parent was killed"
    finally:
        parent.kill()
        parent.wait(timeout=30)
        if parent.stdout is not None:
            parent.stdout.close()


def test_an_upgrade_in_worker_processes_compiles_as_one_process_does(kit: Kit, pools: list[WorkerPool]) -> None:
    fillers = [f"Mod{i:02d}" for i in range(30)]
    kit.publish(
        kit.bundle("Gateway", uses=["soap.legacy"]),
        kit.bundle("Tracking", depends=["Gateway"]),
        kit.bundle("Broken", code="def broken(:\n"),  # stored as a version, fails to compile everywhere
        *(kit.bundle(name) for name in fillers),
    )
    outcome = operations.upgrade(kit.ctx, "11.19.0", workers=2)
    assert [pool.processes for pool in pools[-1:]] == [2], "compiled in the pool, which never broke"
    items = {i.module: (i.status, i.message) for i in views.run_detail(kit.ctx, outcome.run_id).items}
    assert items.pop("Gateway") == ("failed", "uses capability 'soap.legacy', which platform 11.19.0 does not offer")
    assert items.pop("Tracking") == ("failed", "producer 'Gateway' failed to compile for 11.19.0")
    status, message = items.pop("Broken")
    assert status == "failed" and "src/main.py" in (message or "")
    assert set(items.values()) == {("prepared", "prepared for 11.19.0")}
    assert operations.deploy_all(kit.ctx).status == "succeeded"
    assert all("11.19.0" in (kit.current(name) or "") for name in fillers)


def test_a_publish_in_worker_processes_compiles_deploys_and_keeps_applied_configuration(
    kit: Kit, pools: list[WorkerPool]
) -> None:
    fillers = [f"Mod{i:02d}" for i in range(30)]
    first = kit.publish(
        kit.bundle("Orders", config={"MaxRows": "10", "Mode": "fast"}),
        kit.bundle("Broken", code="def broken(:\n"),
        kit.bundle("Reports", depends=["Broken"]),
        *(kit.bundle(name) for name in fillers),
    )
    items = {i.module: (i.status, i.message) for i in views.run_detail(kit.ctx, first.run_id).items}
    assert items.pop("Reports") == ("failed", "producer 'Broken' failed to compile for 11.18.1")
    assert items.pop("Broken")[0] == "failed"
    assert {status for status, _message in items.values()} == {"deployed"}
    operations.apply_config(kit.ctx, "Orders", {"MaxRows": "99"})

    again = kit.publish(kit.bundle("Orders", config={"MaxRows": "10", "Mode": "fast"}, files={"v2.txt": "2"}))
    assert again.status == "succeeded"
    assert [pool.processes for pool in pools] == [2, 2], "both publishes ran in a pool that never broke"
    for frontend in kit.frontends:
        live = (frontend / "Orders" / "CURRENT").read_text().strip()
        assert live.startswith("v2-") and (frontend / "Orders" / "releases" / live / "v2.txt").is_file()
        assert json.loads((frontend / "Orders" / "config.json").read_text()) == {"MaxRows": "99", "Mode": "fast"}
    assert frontend_problems(kit.frontends) == [] and history_problems(kit.ctx, kit.frontends) == []
