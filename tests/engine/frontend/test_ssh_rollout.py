"""A rolling run with drain, undrain and a health URL on a farm of three SSH front-ends, each its
own sshd: the last front-end turns unhealthy during its soak, and the whole farm goes back."""

from __future__ import annotations

import shlex
from pathlib import Path

from app.engine import operations
from app.engine.events import Event, FrontendPhase, RolloutPhase
from app.engine.farm_admin import HookSettings, set_hooks
from app.engine.read import views
from app.engine.runs.options import RunOptions
from app.engine.vocabulary import ItemStatus, RunStatus
from tests.engine.frontend.ssh_farm_kit import NAMES, SshEnv
from tests.farm_http import FarmHealth, farm_health_server
from tests.sshd import ONE_WORKER

pytestmark = ONE_WORKER  # its sshd servers' time limits want the CPU to themselves

RECORD = 'echo "$DEPLOYCENTER_PHASE $DEPLOYCENTER_FRONTEND" >> {calls}'


def test_a_rolling_run_on_ssh_front_ends_switches_back_when_the_last_one_fails_its_soak(
    ssh_env: SshEnv, tmp_path: Path
) -> None:
    before = ssh_env.everything()
    calls = tmp_path / "calls"
    record = RECORD.format(calls=shlex.quote(str(calls)))
    health = FarmHealth({f"web{n}": folder for n, folder in enumerate(ssh_env.folders, start=1)})
    events: list[Event] = []

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, FrontendPhase) and (event.frontend, event.phase) == ("web3", RolloutPhase.SOAKING):
            health.bad_on["web3"] = {ssh_env.currents(NAMES[5])[2] or ""}

    with farm_health_server(health) as base:
        for name in ("web1", "web2", "web3"):
            hooks = HookSettings(drain_cmd=record, undrain_cmd=record, health_url=f"{base}/{{frontend}}")
            set_hooks(ssh_env.ctx, name, hooks)

        done = operations.deploy_all(ssh_env.ctx, options=RunOptions(rolling=True, soak=1), on_event=sink)

    assert done.status == RunStatus.FAILED
    reason = f"during the soak, health URL {base}/web3 of front-end web3 answered 500 Internal Server Error"
    items = views.run_detail(ssh_env.ctx, done.run_id).items
    assert {(i.status, i.reason) for i in items} == {(ItemStatus.FAILED, reason)}
    assert ssh_env.everything() == before
    assert calls.read_text().split("\n")[:-1] == [
        *(f"{phase} web{n}" for n in (1, 2, 3) for phase in ("drain", "undrain")),
        *(f"{phase} web{n}" for n in (2, 1) for phase in ("drain", "undrain")),
    ], "web3, drained, went back first; then web2 and web1, each through its hooks"
    backs = [e.frontend for e in events if isinstance(e, FrontendPhase) and e.phase == RolloutPhase.SWITCHED_BACK]
    assert backs == ["web3", "web2", "web1"]
    assert views.verify(ssh_env.ctx).drift == ()
