"""A whole environment on three SSH front-ends, each its own sshd: deploy, lose a server, crash.

The runs go through the engine and the command line exactly as for local folders; what is on
each server is read from its folders directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from app.engine import operations
from app.engine.read import views
from tests.conftest import REPO, child_env
from tests.engine.frontend.ssh_farm_kit import NAMES, SshEnv
from tests.sshd import ONE_WORKER

pytestmark = ONE_WORKER


def test_deploy_all_to_three_ssh_front_ends_then_verify(ssh_env: SshEnv) -> None:
    status = views.status(ssh_env.ctx).to_json()
    assert [(f["name"], f["kind"]) for f in status["frontends"]] == [("web1", "ssh"), ("web2", "ssh"), ("web3", "ssh")]
    run = operations.deploy_all(ssh_env.ctx)
    assert run.status == "succeeded"
    for name in NAMES:
        live = ssh_env.currents(name)
        assert len(set(live)) == 1 and "11.19.0" in str(live[0])
    assert views.verify(ssh_env.ctx).drift == ()
    live_on_web2 = ssh_env.folders[1] / NAMES[3] / "releases" / str(ssh_env.currents(NAMES[3])[1])
    (live_on_web2 / "src" / "main.py").write_text("x")
    drift = views.verify(ssh_env.ctx).drift
    assert [(d.frontend.startswith("ssh://web2"), d.module) for d in drift] == [(True, NAMES[3])]


def test_a_server_that_is_down_fails_its_modules_and_the_next_run_does_only_what_is_missing(
    ssh_env: SshEnv,
) -> None:
    before = {name: ssh_env.currents(name) for name in NAMES}
    ssh_env.servers[1].kill()
    run = operations.deploy_all(ssh_env.ctx)
    assert run.status == "failed"
    items = views.run_detail(ssh_env.ctx, run.run_id).items
    assert {item.status for item in items} == {"failed"} | ({"blocked"} if len(items) > 1 else set())
    failed = [item for item in items if item.status == "failed"]
    assert all("ssh://web2" in (item.reason or "") for item in failed), [item.reason for item in failed]
    for name in NAMES:  # the rest of the farm is left as it was
        assert [ssh_env.currents(name)[i] for i in (0, 2)] == [before[name][i] for i in (0, 2)]
    ssh_env.servers[1].start()
    again = operations.deploy_all(ssh_env.ctx)
    assert again.status == "succeeded"
    deployed = [i.module for i in views.run_detail(ssh_env.ctx, again.run_id).items if i.status == "deployed"]
    assert sorted(deployed) == sorted(NAMES)
    assert views.verify(ssh_env.ctx).drift == ()


def test_a_kill_mid_run_on_three_ssh_front_ends_is_reconciled_by_the_next_command(ssh_env: SshEnv) -> None:
    ssh_env.ctx.close()
    env = {**child_env(), "DEPLOYCENTER_SSH_CONFIG": os.environ["DEPLOYCENTER_SSH_CONFIG"], "HOME": os.environ["HOME"]}
    base = [sys.executable, "-m", "app", "--unattended", "--data-dir", str(ssh_env.data_dir)]
    child = subprocess.Popen(
        [*base, "deploy-all", "--workers", "2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stderr is not None
    seen = 0
    for line in child.stderr:  # the progress lines: kill once a few modules are live
        seen += line.startswith("[")
        if seen >= 3:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    child.stderr.close()
    started = time.monotonic()
    verified = subprocess.run(
        [*base, "verify"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert time.monotonic() - started < 300
    for name in NAMES:
        assert len(set(ssh_env.currents(name))) == 1, (name, ssh_env.currents(name))
    runs = subprocess.run(
        [*base, "runs", "--json"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert '"interrupted"' in runs.stdout or '"succeeded"' in runs.stdout


def test_a_stage_run_leaves_its_releases_and_nothing_else_on_three_ssh_front_ends(ssh_env: SshEnv) -> None:
    staged = operations.stage_all(ssh_env.ctx)
    assert staged.status == "succeeded"
    for folder in ssh_env.folders:
        work = [p.name for p in folder.rglob("*") if ".tmp-" in p.name or ".staging-" in p.name]
        assert work == [], work  # no next CURRENT or config.json waits for a switch that never comes
    assert views.verify(ssh_env.ctx).drift == ()
    assert operations.deploy_all(ssh_env.ctx).status == "succeeded"
    assert views.verify(ssh_env.ctx).drift == ()
