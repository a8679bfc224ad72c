"""A farm of two SSH front-ends where one server cannot be read when a run plans (rules.md#unreachable).

A module live on the front-end that answered, and recorded live on the one that did not, is
skipped as already deployed; a module the record does not show live on the silent one needs it,
fails naming it, and blocks only its own consumers. The plan and the run say which front-end
could not be read. The servers are the suite's own sshd; what each holds is read from its folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.engine import farm_admin, operations
from app.engine.context import Location
from app.engine.read import views
from tests.bundles import write_bundle
from tests.conftest import Cli
from tests.engine.frontend.ssh_farm_kit import NAMES, SshEnv
from tests.sshd import ONE_WORKER, Farm, SshServer, start_or_skip

pytestmark = ONE_WORKER  # its sshd servers' time limits want the CPU to themselves

SILENT = 1  # web2: the server that cannot be read


@pytest.fixture
def two_servers(ssh_farm: Farm, tmp_path: Path) -> Iterator[SshEnv]:
    """Every module published, so live on both servers on the environment's platform."""
    servers = [start_or_skip(ssh_farm, f"web{n}") for n in (1, 2)]
    folders = [server.folder("front") for server in servers]
    data_dir = tmp_path / "env"
    ctx = operations.init_environment(
        Location(data_dir), frontends=[server.url(folder) for server, folder in zip(servers, folders, strict=True)]
    )
    bundles = [write_bundle(tmp_path / "b", name, depends=[NAMES[0]] if name != NAMES[0] else []) for name in NAMES]
    try:
        assert operations.publish(ctx, bundles).status == "succeeded"
        yield SshEnv(ctx, data_dir, servers, folders)
    finally:
        ctx.close()


def go_down(server: SshServer) -> None:
    server.kill()  # nothing listens on its port any more: connection refused


def change_host_key(server: SshServer) -> None:
    server.new_host_key()
    server.restart()  # the farm's known_hosts still holds the old key: the connection is refused


FAULTS: dict[str, Callable[[SshServer], None]] = {"down": go_down, "changed host key": change_host_key}


def work_files(folder: Path) -> list[str]:
    """Temp files and staging folders of Deploy Center's under a front-end folder."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tmp-" in p.name or ".staging-" in p.name)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_modules_live_everywhere_stay_skipped_when_a_server_cannot_be_read(
    two_servers: SshEnv, capsys: pytest.CaptureFixture[str], fault: str
) -> None:
    env = two_servers
    before = env.everything()
    FAULTS[fault](env.servers[SILENT])
    env.ctx.close()
    cli = Cli(env.data_dir, capsys)
    silent = f"ssh://web2{env.folders[SILENT]}"

    planned = cli("deploy-all", "--dry-run", "--json")
    assert planned.code == 0, planned.err
    plan = planned.json()["plan"]
    assert {(i["status"], i["reason"]) for i in plan["items"]} == {("skipped", "already-deployed")}
    [unread] = plan["unread_frontends"]
    assert (unread["name"], unread["location"], unread["modules_taken_as_live"]) == ("web2", silent, len(NAMES))
    assert unread["problem"]
    text = cli("deploy-all", "--dry-run")
    assert "would deploy 0 module(s)" in text.out and "front-end web2" in text.out, text.out

    done = cli("deploy-all", "--json")
    assert done.code == 0, done.out + done.err
    run = done.json()["run"]
    assert run["status"] == "succeeded"
    assert {(i["status"], i["reason"]) for i in run["items"]} == {("skipped", "already-deployed")}
    assert all("web2, which could not be read, as recorded" in i["message"] for i in run["items"]), run["items"]
    assert "front-end web2" in run["message"] and silent in run["message"], run["message"]
    assert "could not be read" in run["message"], run["message"]
    shown = cli("run", str(run["id"]))
    assert run["message"] in shown.out, shown.out
    assert env.everything() == before


def test_a_module_that_needs_the_silent_server_fails_naming_it_and_blocks_only_its_consumers(
    two_servers: SshEnv, ssh_farm: Farm, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = two_servers
    # New versions of Mod00 and of its consumer Mod01 go live on web1 only, while web2 is out.
    farm_admin.set_enabled(env.ctx, "web2", False)
    newer = [
        write_bundle(tmp_path / "v2", name, depends=[NAMES[0]] if name != NAMES[0] else [], code=f"V = 2  # {name}\n")
        for name in NAMES[:2]
    ]
    assert operations.publish(env.ctx, newer).status == "succeeded"
    farm_admin.set_enabled(env.ctx, "web2", True)
    change_host_key(env.servers[SILENT])
    env.ctx.close()
    cli = Cli(env.data_dir, capsys)
    silent = f"ssh://web2{env.folders[SILENT]}"

    plan = cli("deploy-all", "--dry-run", "--json").json()["plan"]
    pending = sorted(i["module"] for i in plan["items"] if i["status"] == "pending")
    assert pending == NAMES[:2]
    assert plan["unread_frontends"][0]["modules_taken_as_live"] == len(NAMES) - 2

    done = cli("deploy-all", "--json")
    assert done.code == 1, done.out + done.err
    run = done.json()["run"]
    items = {i["module"]: (i["status"], i["reason"]) for i in run["items"]}
    assert items[NAMES[0]][0] == "failed" and silent in items[NAMES[0]][1], items[NAMES[0]]
    assert items[NAMES[1]] == ("blocked", f"producer {NAMES[0]} failed")
    assert {items[name] for name in NAMES[2:]} == {("skipped", "already-deployed")}
    assert "front-end web2" in run["message"], run["message"]
    assert work_files(env.folders[0]) == []  # the failed module left nothing on the healthy server

    ssh_farm.write_client_files()  # the operator checked the new key and trusts it
    again = cli("deploy-all", "--json")
    assert again.code == 0, again.out + again.err
    redone = again.json()["run"]
    assert sorted(i["module"] for i in redone["items"] if i["status"] == "deployed") == NAMES[:2]
    assert not redone["message"]
    assert cli("verify").code == 0


def test_modules_that_fail_because_of_the_silent_server_leave_nothing_on_the_healthy_one(two_servers: SshEnv) -> None:
    env = two_servers
    assert operations.upgrade(env.ctx, "11.19.0").status == "succeeded"  # every module has a new release
    before = env.everything()
    go_down(env.servers[SILENT])
    run = operations.deploy_all(env.ctx)
    assert run.status == "failed"
    failed = [item for item in views.run_detail(env.ctx, run.run_id).items if item.status == "failed"]
    assert failed and all(f"ssh://web2{env.folders[SILENT]}" in (item.reason or "") for item in failed)
    assert env.everything() == before
    assert work_files(env.folders[0]) == []  # neither the staged release nor its next CURRENT
