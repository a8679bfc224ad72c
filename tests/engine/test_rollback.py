"""Rollback runs (rules.md#rollback): back to what was live before a run, or one release back per module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.errors import BadInputError, RefusedError
from app.engine.events import Event, ItemFinished, ItemStarted
from app.engine.read import views
from app.engine.vocabulary import ItemStatus, ModuleState, RunKind, RunStatus, SkipReason
from tests.engine.envkit import Kit, held, make_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    """Alpha, Beta (consumes Alpha) and Gamma, published on 11.18.1 and deployed on 11.19.0."""
    k = make_kit(tmp_path, frontends=2)
    k.publish(k.bundle("Alpha"), k.bundle("Beta", depends=["Alpha"]), k.bundle("Gamma", depends=["Beta"]))
    operations.upgrade(k.ctx, "11.19.0")
    yield k
    k.ctx.close()


def currents(kit: Kit, module: str) -> list[str | None]:
    return [kit.current(module, index) for index in range(len(kit.frontends))]


def items(kit: Kit, run_id: int) -> dict[str, tuple[str, str | None]]:
    return {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, run_id).items}


def test_rolling_back_a_deploy_all_brings_back_what_was_live_and_deploy_all_plans_it_again(kit: Kit) -> None:
    before = {name: currents(kit, name) for name in ("Alpha", "Beta", "Gamma")}
    deployed = operations.deploy_all(kit.ctx)
    assert all(currents(kit, name) != before[name] for name in before)

    back = operations.rollback_run(kit.ctx, deployed.run_id)

    assert (back.kind, back.status) == (RunKind.ROLLBACK, RunStatus.SUCCEEDED)
    assert items(kit, back.run_id) == {name: (ItemStatus.DEPLOYED, None) for name in before}
    assert {name: currents(kit, name) for name in before} == before
    assert views.verify(kit.ctx).drift == ()
    shown = {m.name: (m.state, m.deployed_platform) for m in views.modules(kit.ctx)}
    assert shown == {name: (ModuleState.READY, "11.18.1") for name in before}
    assert {item.module for item in operations.plan_deploy_all(kit.ctx).to_deploy} == set(before)


def test_consumers_switch_back_before_their_producers(kit: Kit) -> None:
    deployed = operations.deploy_all(kit.ctx)
    order: list[tuple[str, str]] = []

    def sink(event: Event) -> None:
        if isinstance(event, ItemStarted | ItemFinished):
            order.append((type(event).__name__, event.module))

    operations.rollback_run(kit.ctx, deployed.run_id, workers=4, on_event=sink)

    finished = [module for kind, module in order if kind == "ItemFinished"]
    assert finished == ["Gamma", "Beta", "Alpha"]
    assert order.index(("ItemFinished", "Gamma")) < order.index(("ItemStarted", "Beta"))
    assert order.index(("ItemFinished", "Beta")) < order.index(("ItemStarted", "Alpha"))


def test_a_module_that_moved_on_since_the_run_is_skipped(kit: Kit) -> None:
    deployed = operations.deploy_all(kit.ctx)
    kit.publish(kit.bundle("Gamma", depends=["Beta"], files={"static/extra.txt": "v2\n"}))
    live = currents(kit, "Gamma")

    back = operations.rollback_run(kit.ctx, deployed.run_id)

    assert items(kit, back.run_id)["Gamma"] == (ItemStatus.SKIPPED, SkipReason.CHANGED_SINCE)
    assert items(kit, back.run_id)["Alpha"] == (ItemStatus.DEPLOYED, None)
    assert currents(kit, "Gamma") == live
    assert back.status == RunStatus.SUCCEEDED


def test_a_first_deploy_has_no_previous_release(tmp_path: Path) -> None:
    kit = make_kit(tmp_path)
    try:
        first = kit.publish(kit.bundle("Alpha"))
        back = operations.rollback_run(kit.ctx, first.run_id)
        assert items(kit, back.run_id) == {"Alpha": (ItemStatus.SKIPPED, SkipReason.NO_PREVIOUS_RELEASE)}
        assert kit.current("Alpha") is not None
        back = operations.rollback_modules(kit.ctx, operations.resolve_modules(kit.ctx, ["Alpha"]))
        assert items(kit, back.run_id) == {"Alpha": (ItemStatus.SKIPPED, SkipReason.NO_PREVIOUS_RELEASE)}
    finally:
        kit.ctx.close()


def test_rolling_back_a_module_goes_back_one_release_each_time(tmp_path: Path) -> None:
    kit = make_kit(tmp_path)
    try:
        releases = []
        for text in ("one", "two", "three"):
            kit.publish(kit.bundle("Alpha", files={"static/which.txt": f"{text}\n"}))
            releases.append(kit.current("Alpha"))
        ids = operations.resolve_modules(kit.ctx, ["Alpha"])
        plan = operations.plan_rollback(kit.ctx, module_ids=ids)
        assert [(i.module, i.current_release, i.target_release) for i in plan.items] == [
            ("Alpha", releases[2], releases[1])
        ]
        operations.rollback_modules(kit.ctx, ids)
        assert kit.current("Alpha") == releases[1]
        operations.rollback_modules(kit.ctx, ids)
        assert kit.current("Alpha") == releases[0]
        last = operations.rollback_modules(kit.ctx, ids)
        assert items(kit, last.run_id) == {"Alpha": (ItemStatus.SKIPPED, SkipReason.NO_PREVIOUS_RELEASE)}
        assert kit.current("Alpha") == releases[0]
        assert [m.deployed_version for m in views.modules(kit.ctx)] == [1]
    finally:
        kit.ctx.close()


def test_a_release_gone_from_a_front_end_is_written_again_from_its_artifact(kit: Kit) -> None:
    before = kit.current("Alpha")
    assert before is not None
    deployed = operations.deploy_all(kit.ctx)
    shutil.rmtree(kit.frontends[1] / "Alpha" / "releases" / before)

    operations.rollback_run(kit.ctx, deployed.run_id)

    assert currents(kit, "Alpha") == [before, before]
    assert views.verify(kit.ctx).drift == ()


def test_a_run_id_that_does_not_exist_or_deployed_nothing_is_bad_input_and_records_nothing(kit: Kit) -> None:
    upgrade_run = views.run_summaries(kit.ctx, kinds=("upgrade",))[0].id
    runs = len(views.run_summaries(kit.ctx))
    with pytest.raises(BadInputError, match="there is no run 999"):
        operations.rollback_run(kit.ctx, 999)
    with pytest.raises(BadInputError, match=f"run {upgrade_run} \\(upgrade\\) deployed nothing"):
        operations.rollback_run(kit.ctx, upgrade_run)
    assert len(views.run_summaries(kit.ctx)) == runs


def test_a_module_being_rolled_back_cannot_be_published(kit: Kit) -> None:
    deployed = operations.deploy_all(kit.ctx)
    with held(lambda sink: operations.rollback_run(kit.ctx, deployed.run_id, workers=1, on_event=sink)) as run:
        assert run.held.is_set()
        with pytest.raises(RefusedError, match=r"publish of module Alpha refused: .*\(rollback\)"):
            kit.publish(kit.bundle("Alpha"))
    assert views.status(kit.ctx).active_run is None


def test_a_run_that_left_a_module_on_the_same_release_has_nothing_to_roll_back_for_it(tmp_path: Path) -> None:
    kit = make_kit(tmp_path)
    try:
        kit.publish(kit.bundle("Alpha"))
        live = kit.current("Alpha")
        solved = operations.publish_solution(kit.ctx)  # compiles to the same artifact: the same release
        back = operations.rollback_run(kit.ctx, solved.run_id)
        assert items(kit, back.run_id) == {"Alpha": (ItemStatus.SKIPPED, SkipReason.NO_PREVIOUS_RELEASE)}
        assert kit.current("Alpha") == live
    finally:
        kit.ctx.close()
