"""SIGKILL a rolling run, a rollback and a switch-only Deploy All: no half state is left (rules.md#reconcile).

The rolling run is killed at a known point: while the second front-end's health check runs, the
first front-end already switched. The rollback and the switch-only Deploy All are killed after a
number of their modules reported; whatever the moment, after the next command every module runs
one release on all front-ends, the one the record says, and ``verify`` passes.
"""

from __future__ import annotations

import os
import queue
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

from sqlalchemy import update

from app.engine import operations
from app.engine.context import Location
from app.engine.read import views
from app.engine.store.models import FrontendRow
from tests.conftest import Cli
from tests.faults.scenery import currents, frontend_problems, history_problems, module_names, opened, write_modules

MODULES = 24


def environment(cli: Cli, tmp_path: Path, frontends: int = 2) -> list[Path]:
    folders = [tmp_path / f"fe{i + 1}" for i in range(frontends)]
    location = Location.from_options(str(cli.data_dir), None)
    ctx = operations.init_environment(location, frontends=[str(f) for f in folders])
    try:
        operations.publish(ctx, write_modules(tmp_path / "bundles", MODULES, 11, kilobytes=8), workers=2)
        assert operations.upgrade(ctx, "11.19.0", workers=2).status == "succeeded"
    finally:
        ctx.close()
    return folders


def kill_after_lines(proc: subprocess.Popen[str], finished: int) -> None:
    """SIGKILL once the child reported ``finished`` modules (or ended by itself)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("["):
                lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen = 0
    while seen < finished and lines.get(timeout=120) is not None:
        seen += 1
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    for stream in (proc.stdout, proc.stderr):
        assert stream is not None
        stream.close()


def settled(cli: Cli, frontends: list[Path]) -> views.RunSummary:
    """The promises after the next command; the last run as it was settled."""
    assert frontend_problems(frontends) == []
    assert cli("status").code == 0  # the next command settles the dead run
    with opened(cli) as ctx:
        assert views.status(ctx).active_run is None
        assert history_problems(ctx, frontends) == []
        for name in module_names(MODULES):
            assert len(set(currents(frontends, name))) == 1, (name, currents(frontends, name))
        last = views.run_summaries(ctx, limit=1)[0]
    verified = cli("verify")
    assert verified.code == 0, verified.out
    return last


def test_a_rolling_run_killed_during_a_health_check_is_switched_back(cli: Cli, tmp_path: Path) -> None:
    frontends = environment(cli, tmp_path)
    before = {name: currents(frontends, name) for name in module_names(MODULES)}
    marker = tmp_path / "checking"
    # The check of fe1 says it started, then waits: the run is killed while it waits, with fe1
    # switched and fe2 not yet.
    where = shlex.quote(str(marker))
    check = f"echo $$ > {where}.tmp && mv {where}.tmp {where}; exec sleep 300"
    with opened(cli) as ctx, ctx.db.write() as session:
        session.execute(update(FrontendRow).where(FrontendRow.name == "fe1").values(health_cmd=check))
    run = cli.spawn("deploy-all", "--rolling")
    deadline = time.monotonic() + 120
    while not marker.exists():  # waiting on the child, not standing in for work
        assert run.poll() is None, "the rolling run ended before its first health check"
        assert time.monotonic() < deadline, "the first health check never started"
        time.sleep(0.05)
    switched = [currents(frontends, name) for name in module_names(MODULES)]
    assert all(
        live[0] != before[name][0] and live[1] == before[name][1]
        for name, live in zip(module_names(MODULES), switched, strict=True)
    )  # the half state to undo
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    os.kill(int(marker.read_text()), signal.SIGKILL)  # the orphaned health check
    for stream in (run.stdout, run.stderr):
        assert stream is not None
        stream.close()

    last = settled(cli, frontends)

    assert (last.kind, last.status) == ("deploy-all", "interrupted")
    assert {name: currents(frontends, name) for name in module_names(MODULES)} == before
    detail = cli("run", str(last.id), "--json").json()["run"]
    assert {(i["status"], i["reason"]) for i in detail["items"]} == {("failed", "interrupted")}


def test_a_killed_switch_only_deploy_all_leaves_no_half_state(cli: Cli, tmp_path: Path) -> None:
    frontends = environment(cli, tmp_path, frontends=3)
    assert cli("deploy-all", "--stage").code == 0
    kill_after_lines(cli.spawn("deploy-all", "--workers", "1"), MODULES // 3)

    last = settled(cli, frontends)

    assert last.kind == "deploy-all" and last.status in ("interrupted", "succeeded")
    again = cli("deploy-all")
    assert again.code == 0, again.err
    with opened(cli) as ctx:
        assert views.status(ctx).fully_upgraded


def test_a_killed_rollback_leaves_no_half_state(cli: Cli, tmp_path: Path) -> None:
    frontends = environment(cli, tmp_path, frontends=3)
    done = cli("deploy-all", "--json")
    assert done.code == 0, done.err
    run_id = done.json()["run"]["id"]
    kill_after_lines(cli.spawn("rollback", str(run_id), "--workers", "1"), MODULES // 3)

    last = settled(cli, frontends)

    assert last.kind == "rollback" and last.status in ("interrupted", "succeeded")
    finish = cli("rollback", str(run_id), "--json")  # what is left goes back; the rest is skipped
    assert finish.code == 0, finish.err
    with opened(cli) as ctx:
        assert {m.deployed_platform for m in views.modules(ctx)} == {"11.18.1"}
    assert cli("verify").code == 0
