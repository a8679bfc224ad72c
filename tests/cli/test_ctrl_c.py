"""Ctrl-C during a run: modules already deploying finish, the rest are cancelled, exit code 130."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from app.engine import operations
from app.engine.context import Location, open_context
from app.engine.read import views
from tests.bundles import write_bundle
from tests.conftest import REPO, child_env


def test_ctrl_c_cancels_the_run_and_exits_130(tmp_path: Path) -> None:
    data_dir = tmp_path / "env"
    ctx = operations.init_environment(Location(data_dir), frontends=[str(tmp_path / "fe")])
    bundles = [write_bundle(tmp_path / "b", f"Mod{i:03d}") for i in range(300)]
    operations.publish(ctx, bundles)
    operations.upgrade(ctx, "11.19.0")
    ctx.close()

    command = [
        sys.executable,
        "-m",
        "app",
        "--unattended",
        "deploy-all",
        "--workers",
        "1",
        "--json",
        "--data-dir",
        str(data_dir),
    ]
    proc = subprocess.Popen(
        command, cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("[1/"):
            proc.send_signal(signal.SIGINT)
            break
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "cancelling" in err and "Traceback" not in err

    ctx = open_context(Location(data_dir))
    try:
        run = views.run_summaries(ctx, kinds=("deploy-all",))[0]
        assert run.status == "cancelled"
        assert run.counts["cancelled"] > 0 and run.counts["deployed"] > 0
        assert views.status(ctx).active_run is None
    finally:
        ctx.close()
