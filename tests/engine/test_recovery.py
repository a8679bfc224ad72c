"""A run whose process died mid-switch: the next command makes the front-ends and the record agree."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.engine import operations
from app.engine.artifacts import ArtifactStore
from app.engine.frontend import farm
from app.engine.frontend.content import ReleaseRequest, release_files
from app.engine.frontend.local.target import LocalTarget
from app.engine.frontend.target import Switch
from app.engine.kinds.recovery import FINISHED_MESSAGE, recover_dead_runs
from app.engine.read import views
from app.engine.runs import records
from app.engine.runs.planner import DeployAllPlanner
from app.engine.store.models import RunRow
from app.engine.vocabulary import ItemStatus, RunKind, RunStatus
from tests.engine.envkit import Kit, make_kit
from tests.engine.frontend.kit import read_current


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(tmp_path, frontends=3)
    k.publish(k.bundle("Alpha"), k.bundle("Beta"), k.bundle("Gamma"))
    operations.upgrade(k.ctx, "11.19.0")
    yield k
    k.ctx.close()


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def crashed_deploy_all(kit: Kit) -> tuple[int, dict[str, ReleaseRequest]]:
    """Record a Deploy All as its setup would, owned by a process that is gone; its releases by module."""
    with kit.ctx.db.write() as session:
        env = records.serialize_writers(session)
        targets = [LocalTarget(fe.name, fe) for fe in kit.frontends]
        plan = DeployAllPlanner(session, env.platform_version, targets).plan()
        items = [records.NewItem(i.module_id, i.module, i.application, i.version, i.compilation_id) for i in plan.items]
        run = records.create_run(session, RunKind.DEPLOY_ALL, env.platform_version, items, 1)
        session.execute(update(RunRow).where(RunRow.id == run.id).values(owner_pid=dead_pid()))
        requests = {
            i.module: ReleaseRequest(i.module, i.version, env.platform_version, str(i.artifact_sha256), {})
            for i in plan.to_deploy
        }
        return run.id, requests


def stage_everywhere(kit: Kit, request: ReleaseRequest) -> None:
    artifact = ArtifactStore(kit.ctx.artifacts.root).read(request.artifact_sha256)
    for frontend in kit.frontends:
        [staged] = LocalTarget(frontend.name, frontend).stage([release_files(request, artifact)])
        assert not isinstance(staged, Exception)


def switch(frontend: Path, request: ReleaseRequest) -> None:
    target = LocalTarget(frontend.name, frontend)
    assert target.switch([Switch(request.module, request.release_id, b"{}\n")]) == [None]
    farm.flush_all([target])


def test_a_partial_switch_is_finished_and_an_unrecorded_one_is_recorded(kit: Kit) -> None:
    before = {name: kit.current(name) for name in ("Alpha", "Beta", "Gamma")}
    run_id, requests = crashed_deploy_all(kit)
    for name in ("Alpha", "Beta"):
        stage_everywhere(kit, requests[name])
    switch(kit.frontends[0], requests["Alpha"])  # died after switching one front-end of three
    for frontend in kit.frontends:  # died after switching Beta everywhere, before recording it
        switch(frontend, requests["Beta"])
    assert views.verify(kit.ctx).drift != ()

    assert recover_dead_runs(kit.ctx) == [run_id]

    for name in ("Alpha", "Beta"):
        assert [read_current(fe, name) for fe in kit.frontends] == [requests[name].release_id] * 3
    assert [read_current(fe, "Gamma") for fe in kit.frontends] == [before["Gamma"]] * 3
    assert views.verify(kit.ctx).drift == ()
    detail = views.run_detail(kit.ctx, run_id)
    assert detail.summary.status == RunStatus.INTERRUPTED
    items = {item.module: (item.status, item.message) for item in detail.items}
    assert items["Alpha"] == (ItemStatus.DEPLOYED, FINISHED_MESSAGE)
    assert items["Beta"] == (ItemStatus.DEPLOYED, FINISHED_MESSAGE)
    assert items["Gamma"][0] == ItemStatus.CANCELLED
    states = {module.name: module.state for module in views.modules(kit.ctx)}
    assert states == {"Alpha": "deployed", "Beta": "deployed", "Gamma": "ready"}
    assert views.status(kit.ctx).active_run is None
    again = operations.deploy_all(kit.ctx)
    assert {i.module: i.status for i in views.run_detail(kit.ctx, again.run_id).items} == {
        "Alpha": "skipped",
        "Beta": "skipped",
        "Gamma": "deployed",
    }


def test_a_switch_whose_compilation_is_not_recorded_is_switched_back(kit: Kit) -> None:
    before = kit.current("Alpha")
    run_id, requests = crashed_deploy_all(kit)
    stage_everywhere(kit, requests["Alpha"])
    switch(kit.frontends[1], requests["Alpha"])
    with kit.ctx.db.write() as session:  # as a publish that died before recording what it compiled
        session.execute(update(RunRow).where(RunRow.id == run_id).values(kind=RunKind.PUBLISH))
        from app.engine.store.models import RunItemRow

        session.execute(update(RunItemRow).where(RunItemRow.run_id == run_id).values(compilation_id=None, version=9))

    assert recover_dead_runs(kit.ctx) == [run_id]

    assert [read_current(fe, "Alpha") for fe in kit.frontends] == [before] * 3
    assert views.verify(kit.ctx).drift == ()
    items = {item.module: item for item in views.run_detail(kit.ctx, run_id).items}
    assert items["Alpha"].status == ItemStatus.CANCELLED


def test_the_next_command_reconciles_before_it_reports(kit: Kit, tmp_path: Path) -> None:
    from tests.conftest import REPO, child_env

    run_id, requests = crashed_deploy_all(kit)
    stage_everywhere(kit, requests["Gamma"])
    switch(kit.frontends[2], requests["Gamma"])
    kit.ctx.close()
    done = subprocess.run(
        [sys.executable, "-m", "app", "--unattended", "--data-dir", str(tmp_path / "env"), "verify"],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert [read_current(fe, "Gamma") for fe in kit.frontends] == [requests["Gamma"].release_id] * 3
    with kit.ctx.db.read() as session:
        assert session.scalar(select(RunRow.status).where(RunRow.id == run_id)) == RunStatus.INTERRUPTED
