"""SIGKILL a Deploy All that deploys in worker processes: its children stop too, and the promises hold."""

from __future__ import annotations

import os
import queue
import signal
import threading
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.context import Location
from app.engine.read import views
from app.engine.runs import pool as worker_processes
from tests.conftest import Cli
from tests.faults.scenery import frontend_problems, history_problems, opened, write_modules
from tests.processes import HAS_PROC, children_of, wait_until_gone

pytestmark = pytest.mark.slow

MODULES = worker_processes.MIN_MODULES


@pytest.mark.skipif(not HAS_PROC, reason="reads processes from /proc")
def test_killing_a_run_stops_its_worker_processes(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frontends = [tmp_path / "fe1", tmp_path / "fe2"]
    ctx = operations.init_environment(
        Location.from_options(str(cli.data_dir), None), frontends=[str(f) for f in frontends]
    )
    try:
        operations.publish(ctx, write_modules(tmp_path / "bundles", MODULES, 7, kilobytes=4))
        assert operations.upgrade(ctx, "11.19.0").status == "succeeded"
    finally:
        ctx.close()

    monkeypatch.setenv(worker_processes.ENV_PROCESSES, "2")
    run = cli.spawn("deploy-all")
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert run.stderr is not None
        for line in run.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    finished = 0
    while finished < MODULES // 4:
        line = lines.get(timeout=120)
        assert line is not None, "the run ended before it could be killed"
        finished += line.startswith("[")
    workers = children_of(run.pid)
    assert workers, "a run of this size deploys in worker processes"
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    assert not wait_until_gone(workers, 10), "deploy processes outlived their run"
    for stream in (run.stdout, run.stderr):
        assert stream is not None
        stream.close()

    assert frontend_problems(frontends) == []
    assert cli("status").code == 0  # the next command settles the dead run
    with opened(cli) as ctx:
        assert views.status(ctx).active_run is None
        assert history_problems(ctx, frontends) == []
    again = cli("deploy-all")
    assert again.code == 0, again.err
    assert cli("verify").code == 0
    with opened(cli) as ctx:
        assert views.status(ctx).fully_upgraded
    assert os.environ[worker_processes.ENV_PROCESSES] == "2"
