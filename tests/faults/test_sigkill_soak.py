"""SIGKILL a rolling run while it soaks the second of three front-ends, fe2 drained: the next
command switches the farm back and says so, ``status`` shows fe2 drained by that run, and the
next command that changes something undrains it and says so."""

from __future__ import annotations

import shlex
import signal
import time
from pathlib import Path

from app.engine import operations
from app.engine.context import Location
from tests.conftest import Cli
from tests.engine.farm.farmkit import FRONTENDS, HOOK_SCRIPT
from tests.farm_http import FarmHealth, farm_health_server
from tests.faults.scenery import currents, write_modules

MODULES = 8


def test_a_rolling_run_killed_during_a_soak_is_switched_back_and_undrained(cli: Cli, tmp_path: Path) -> None:
    folders = [tmp_path / name for name in FRONTENDS]
    ctx = operations.init_environment(Location(cli.data_dir), frontends=[str(f) for f in folders])
    try:
        operations.publish(ctx, write_modules(tmp_path / "bundles", MODULES, 5, kilobytes=4), workers=2)
        assert operations.upgrade(ctx, "11.19.0", workers=2).status == "succeeded"
    finally:
        ctx.close()
    hook = tmp_path / "hook.sh"  # records "phase front-end run CURRENT-of-Mod000" in tmp_path/calls
    hook.write_text(HOOK_SCRIPT.replace("/Alpha/CURRENT", "/Mod000/CURRENT"))
    hook.chmod(0o755)
    names = sorted(p.name for p in folders[0].iterdir() if p.is_dir() and not p.name.startswith("."))
    before = {name: currents(folders, name) for name in names}
    health = FarmHealth(dict(zip(FRONTENDS, folders, strict=True)))
    with farm_health_server(health) as base:
        for name in FRONTENDS:
            hooks = ["--drain-cmd", shlex.quote(str(hook)), "--undrain-cmd", shlex.quote(str(hook))]
            assert cli("frontend", "set", name, *hooks, "--health-url", f"{base}/{{frontend}}").code == 0

        run = cli.spawn("deploy-all", "--rolling", "--soak", "8")
        deadline = time.monotonic() + 120
        # Each front-end soaks 8 s before the next is drained: fe2 is checked after its switch,
        # then again once its soak began.
        while health.hits["/fe2"] < 2:
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the soak of fe2 never started"
            time.sleep(0.05)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
        for stream in (run.stdout, run.stderr):
            assert stream is not None
            stream.close()
        calls = (tmp_path / "calls").read_text().splitlines()
        assert [line.split()[:2] for line in calls] == [["drain", "fe1"], ["undrain", "fe1"], ["drain", "fe2"]]
        run_id = int(calls[0].split()[2])

        status = cli("status", "--json")  # any command settles the dead run first

        assert status.code == 0
        assert f"run {run_id} (deploy-all) was interrupted" in status.err
        assert status.json()["drained"] == [{"name": "fe2", "run": run_id}]
        assert f"fe2 ({folders[1]}, drained by run {run_id})" in cli("status").out
        assert {name: currents(folders, name) for name in names} == before
        assert cli("verify").code == 0

        changed = cli("frontend", "set", "fe3", "--health-timeout", "30")  # a command that changes something

        assert changed.code == 0, changed.err
        assert f"front-end fe2 was left drained by run {run_id}: undrained" in changed.err
        last = (tmp_path / "calls").read_text().splitlines()[-1].split()
        assert last == ["undrain", "fe2", str(run_id), before["Mod000"][1]]
        assert cli("status", "--json").json()["drained"] == []
        assert cli("verify").code == 0
        run_json = cli("run", str(run_id), "--json").json()["run"]
        assert run_json["status"] == "interrupted"
