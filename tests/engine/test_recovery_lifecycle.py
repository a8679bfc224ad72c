"""A rollback or a rolling run whose process died mid-switch: the next command leaves no half state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from app.engine import operations
from app.engine.artifacts import ArtifactStore
from app.engine.frontend.content import ReleaseRequest, release_files
from app.engine.frontend.local.target import LocalTarget
from app.engine.frontend.target import Switch
from app.engine.kinds.recovery import FINISHED_MESSAGE, WAITING_MESSAGE, recover_dead_runs
from app.engine.kinds.rollback import plan_run_rollback
from app.engine.read import views
from app.engine.runs import records
from app.engine.runs.options import RunOptions
from app.engine.runs.planner import DeployAllPlanner
from app.engine.store.models import RunItemRow, RunRow
from app.engine.vocabulary import ItemStatus, RunKind, RunStatus
from tests.engine.envkit import Kit, make_kit
from tests.engine.frontend.kit import read_current
from tests.engine.test_recovery import dead_pid


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(tmp_path, frontends=2)
    k.publish(k.bundle("Alpha"), k.bundle("Beta"))
    operations.upgrade(k.ctx, "11.19.0")
    yield k
    k.ctx.close()


def owned_by_the_dead(kit: Kit, run_id: int) -> None:
    with kit.ctx.db.write() as session:
        session.execute(update(RunRow).where(RunRow.id == run_id).values(owner_pid=dead_pid()))


def switch(frontend: Path, module: str, release: str | None) -> None:
    target = LocalTarget(frontend.name, frontend)
    assert target.switch([Switch(module, release, b"{}\n")]) == [None]
    target.flush()


def test_a_rollback_that_died_after_switching_one_front_end_is_finished(kit: Kit) -> None:
    old = kit.current("Alpha")
    deployed = operations.deploy_all(kit.ctx)
    new = kit.current("Alpha")
    with kit.ctx.db.write() as session:  # a rollback recorded as its setup records it
        env = records.serialize_writers(session)
        plan = plan_run_rollback(session, deployed.run_id)
        items = [
            records.NewItem(i.module_id, i.module, i.application, i.target_version, i.compilation_id)
            for i in plan.items
        ]
        run = records.create_run(session, RunKind.ROLLBACK, env.platform_version, items, 1)
        run_id = run.id
    owned_by_the_dead(kit, run_id)
    switch(kit.frontends[0], "Alpha", old)  # died after switching Alpha back on one front-end of two
    assert [read_current(fe, "Alpha") for fe in kit.frontends] == [old, new]

    assert recover_dead_runs(kit.ctx) == [run_id]

    assert [read_current(fe, "Alpha") for fe in kit.frontends] == [old, old]
    assert [read_current(fe, "Beta") for fe in kit.frontends] == [kit.current("Beta")] * 2
    assert views.verify(kit.ctx).drift == ()
    detail = views.run_detail(kit.ctx, run_id)
    assert detail.summary.status == RunStatus.INTERRUPTED
    found = {i.module: (i.status, i.message) for i in detail.items}
    assert found["Alpha"] == (ItemStatus.DEPLOYED, FINISHED_MESSAGE)
    assert found["Beta"][0] == ItemStatus.CANCELLED
    assert {m.name: m.deployed_platform for m in views.modules(kit.ctx)} == {"Alpha": "11.18.1", "Beta": "11.19.0"}


@pytest.mark.parametrize("options", [RunOptions(rolling=True), RunOptions(soak=30)], ids=["rolling", "soaking"])
def test_a_rolling_run_that_died_between_front_ends_is_switched_back(kit: Kit, options: RunOptions) -> None:
    """Rolling, or soaking after its whole switch: its checks had not all passed, so it goes back."""
    old = {name: kit.current(name) for name in ("Alpha", "Beta")}
    with kit.ctx.db.write() as session:  # a rolling Deploy All that staged everything
        env = records.serialize_writers(session)
        plan = DeployAllPlanner(session, env.platform_version).plan()
        items = [records.NewItem(i.module_id, i.module, i.application, i.version, i.compilation_id) for i in plan.items]
        run = records.create_run(session, RunKind.DEPLOY_ALL, env.platform_version, items, 1, options=options)
        session.execute(update(RunItemRow).where(RunItemRow.run_id == run.id).values(status=ItemStatus.STAGED))
        run_id = run.id
        requests = [
            ReleaseRequest(i.module, i.version, env.platform_version, str(i.artifact_sha256), {})
            for i in plan.to_deploy
        ]
    owned_by_the_dead(kit, run_id)
    store = ArtifactStore(kit.ctx.artifacts.root)
    for frontend in kit.frontends:
        target = LocalTarget(frontend.name, frontend)
        staged = target.stage([release_files(r, store.read(r.artifact_sha256)) for r in requests])
        assert not [s for s in staged if isinstance(s, Exception)]
    for request in requests:  # died while the first front-end's health check ran, or in the soak
        switch(kit.frontends[0], request.module, request.release_id)

    assert recover_dead_runs(kit.ctx) == [run_id]

    for name, release in old.items():
        assert [read_current(fe, name) for fe in kit.frontends] == [release, release]
    assert views.verify(kit.ctx).drift == ()
    detail = views.run_detail(kit.ctx, run_id)
    assert detail.summary.status == RunStatus.INTERRUPTED
    assert {(i.status, i.reason, i.message) for i in detail.items} == {
        (ItemStatus.FAILED, "interrupted", WAITING_MESSAGE)
    }
    assert {m.deployed_platform for m in views.modules(kit.ctx)} == {"11.18.1"}
