"""Each rule of Deploy All, its locks and its runs (rules.md), on a real environment in a temp folder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.engine import durability, operations
from app.engine.errors import RefusedError
from app.engine.events import Event, ItemFinished, ItemStarted
from app.engine.read import views
from tests.engine.envkit import Kit, held, make_kit


@pytest.fixture
def kit(tmp_path: Path, database_url: str | None) -> Iterator[Kit]:
    k = make_kit(tmp_path, database_url=database_url)
    yield k
    k.ctx.close()


def items_of(kit: Kit, run_id: int) -> dict[str, tuple[str, str | None]]:
    return {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, run_id).items}


def states(kit: Kit) -> dict[str, str]:
    return {m.name: m.state for m in views.modules(kit.ctx)}


def test_upgrade_keeps_old_builds_live_until_deploy_all_makes_new_ones_live(kit: Kit) -> None:
    kit.publish(kit.bundle("Customers"), kit.bundle("Orders", depends=["Customers"]))
    before = kit.current("Orders")
    assert before is not None and "11.18.1" in before

    operations.upgrade(kit.ctx, "11.19.0")
    assert kit.current("Orders") == before, "preparing must not touch the front-ends"
    assert states(kit) == {"Customers": "ready", "Orders": "ready"}

    outcome = operations.deploy_all(kit.ctx)
    assert outcome.status == "succeeded"
    assert items_of(kit, outcome.run_id) == {"Customers": ("deployed", None), "Orders": ("deployed", None)}
    assert "11.19.0" in (kit.current("Orders") or "")
    assert states(kit) == {"Customers": "deployed", "Orders": "deployed"}


def test_skip_reasons_compilation_failed_already_deployed_not_prepared(kit: Kit) -> None:
    kit.publish(
        kit.bundle("Legacy", uses=["soap.legacy"]),
        kit.bundle("Fresh"),
        kit.bundle("Stays"),
    )
    cancelled = threading.Event()
    cancelled.set()
    # An upgrade cancelled before it starts leaves every module without a compilation.
    operations.upgrade(kit.ctx, "11.19.0", cancel=cancelled)
    assert set(states(kit).values()) == {"not-prepared"}
    operations.upgrade(kit.ctx, "11.19.0")
    operations.deploy_modules(kit.ctx, operations.resolve_modules(kit.ctx, ["Stays"]))

    outcome = operations.deploy_all(kit.ctx)
    items = items_of(kit, outcome.run_id)
    assert items["Legacy"] == ("skipped", "compilation-failed")
    assert items["Stays"] == ("skipped", "already-deployed")
    assert items["Fresh"] == ("deployed", None)
    assert "11.18.1" in (kit.current("Legacy") or ""), "a module that failed to compile keeps its old build"


def test_not_prepared_is_skipped(kit: Kit) -> None:
    kit.publish(kit.bundle("Alone"))
    stop = threading.Event()
    stop.set()
    operations.upgrade(kit.ctx, "11.19.0", cancel=stop)
    outcome = operations.deploy_all(kit.ctx)
    assert items_of(kit, outcome.run_id) == {"Alone": ("skipped", "not-prepared")}
    assert outcome.status == "succeeded"


def test_single_module_and_application_deploys_follow_the_same_rules(kit: Kit) -> None:
    kit.publish(
        kit.bundle("A1", application="Alpha"),
        kit.bundle("A2", application="Alpha"),
        kit.bundle("B1", application="Beta"),
    )
    operations.upgrade(kit.ctx, "11.19.0")
    one = operations.deploy_modules(kit.ctx, operations.resolve_modules(kit.ctx, ["b1"]))
    assert items_of(kit, one.run_id) == {"B1": ("deployed", None)}
    app = operations.deploy_modules(kit.ctx, operations.resolve_modules(kit.ctx, application="alpha"))
    assert items_of(kit, app.run_id) == {"A1": ("deployed", None), "A2": ("deployed", None)}
    assert views.status(kit.ctx).fully_upgraded


def test_modules_in_a_run_refuse_publish_apply_and_delete_others_stay_usable(kit: Kit) -> None:
    kit.publish(
        kit.bundle("InRun1", config={"Mode": "a"}),
        kit.bundle("InRun2"),
        kit.bundle("Outside", config={"Mode": "a"}),
    )
    operations.upgrade(kit.ctx, "11.19.0")
    ids = operations.resolve_modules(kit.ctx, ["InRun1", "InRun2"])
    with held(lambda sink: operations.deploy_modules(kit.ctx, ids, workers=1, on_event=sink)) as run:
        finished = [e.module for e in run.events if isinstance(e, ItemFinished)]
        assert len(finished) == 1, "the run is held right after its first module"
        # Refused even for the module that is already done: the lock lasts until the run ends.
        for name in ("InRun1", "InRun2"):
            with pytest.raises(RefusedError, match=rf"module {name} refused: .*run \d+ \(deploy\) started by .+ at "):
                operations.delete_module(kit.ctx, name)
        with pytest.raises(RefusedError, match="Apply configurations of module InRun1"):
            operations.apply_config(kit.ctx, "InRun1", {"Mode": "b"})
        with pytest.raises(RefusedError, match="publish of module InRun2"):
            kit.publish(kit.bundle("InRun2", files={"extra.txt": "x"}))
        assert operations.apply_config(kit.ctx, "Outside", {"Mode": "b"}) == {"Mode": "b"}
        assert kit.publish(kit.bundle("Outside", files={"extra.txt": "x"})).status == "succeeded"
    assert run.outcome is not None and run.outcome.status == "succeeded"
    operations.delete_module(kit.ctx, "InRun1")  # free again once the run has ended
    assert "InRun1" not in states(kit)


def test_only_one_deploy_all_or_upgrade_at_a_time(kit: Kit) -> None:
    kit.publish(kit.bundle("M1"), kit.bundle("M2"))
    operations.upgrade(kit.ctx, "11.19.0")
    with held(lambda sink: operations.deploy_all(kit.ctx, workers=1, on_event=sink)) as run:
        with pytest.raises(RefusedError, match=r"cannot start deploy-all: run \d+ \(deploy-all\)"):
            operations.deploy_all(kit.ctx)
        with pytest.raises(RefusedError, match="cannot start upgrade"):
            operations.upgrade(kit.ctx, "11.19.1")
        active = views.status(kit.ctx).active_run
        assert active is not None and active.kind == "deploy-all"
    assert run.outcome is not None
    assert views.status(kit.ctx).active_run is None


def test_relaunch_after_errors_deploys_only_what_failed(kit: Kit) -> None:
    kit.publish(kit.bundle("Good1"), kit.bundle("Good2"), kit.bundle("Flaky"))
    operations.upgrade(kit.ctx, "11.19.0")
    # A file where the deployer needs the module's folder fails that module, naming the path.
    blocker = kit.frontends[0] / "Flaky"
    for child in sorted(blocker.rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    blocker.rmdir()
    blocker.write_text("not a folder")

    first = operations.deploy_all(kit.ctx)
    items = items_of(kit, first.run_id)
    assert first.status == "failed"
    assert items["Flaky"][0] == "failed" and str(blocker) in (items["Flaky"][1] or "")
    assert blocker.read_text() == "not a folder", "the deployer never overwrites a path it did not create"

    blocker.unlink()
    second = operations.deploy_all(kit.ctx)
    assert items_of(kit, second.run_id) == {
        "Flaky": ("deployed", None),
        "Good1": ("skipped", "already-deployed"),
        "Good2": ("skipped", "already-deployed"),
    }
    assert second.status == "succeeded"


def test_producers_deploy_first_and_a_failed_producer_blocks_its_consumers(kit: Kit) -> None:
    kit.publish(
        kit.bundle("Base"),
        kit.bundle("Core", depends=["Base"]),
        kit.bundle("Orders", depends=["Core"]),
        kit.bundle("Invoices", depends=["Orders"]),
        kit.bundle("Unrelated"),
    )
    operations.upgrade(kit.ctx, "11.19.0")
    order: list[str] = []
    run = operations.deploy_all(
        kit.ctx, workers=4, on_event=lambda e: order.append(e.module) if isinstance(e, ItemStarted) else None
    )
    assert order.index("Base") < order.index("Core") < order.index("Orders") < order.index("Invoices")
    assert run.status == "succeeded"

    for name in ("Base", "Core", "Orders", "Invoices", "Unrelated"):
        producers = {"Core": ["Base"], "Orders": ["Core"], "Invoices": ["Orders"]}.get(name, [])
        kit.publish(kit.bundle(name, depends=producers, files={"v2.txt": "2"}))
    operations.upgrade(kit.ctx, "11.19.1")
    (kit.frontends[0] / "Core" / "releases").rename(kit.frontends[0] / "core-releases-moved")
    (kit.frontends[0] / "Core" / "releases").write_text("in the way")
    failed = operations.deploy_all(kit.ctx, workers=4)
    items = items_of(kit, failed.run_id)
    assert items["Core"][0] == "failed"
    assert items["Orders"] == ("blocked", "producer Core failed")
    assert items["Invoices"] == ("blocked", "producer Core failed")
    assert items["Base"] == ("deployed", None) and items["Unrelated"] == ("deployed", None)
    assert failed.status == "failed"


def test_fully_upgraded_once_nothing_is_left_to_deploy_or_failed(kit: Kit) -> None:
    kit.publish(kit.bundle("One"), kit.bundle("Two"))
    operations.upgrade(kit.ctx, "11.19.0")
    state = views.status(kit.ctx)
    assert (state.upgrade_from, state.upgrade_to, state.ready, state.fully_upgraded) == ("11.18.1", "11.19.0", 2, False)
    operations.deploy_all(kit.ctx)
    assert views.status(kit.ctx).fully_upgraded


def test_cancel_finishes_what_is_deploying_and_cancels_the_rest(kit: Kit) -> None:
    kit.publish(*(kit.bundle(f"Mod{i:02d}") for i in range(12)))
    operations.upgrade(kit.ctx, "11.19.0")
    cancel = threading.Event()

    def sink(event: Event) -> None:
        if isinstance(event, ItemFinished):
            cancel.set()

    outcome = operations.deploy_all(kit.ctx, workers=2, on_event=sink, cancel=cancel)
    statuses = [status for status, _ in items_of(kit, outcome.run_id).values()]
    assert outcome.status == "cancelled"
    assert "cancelled" in statuses and "deployed" in statuses
    assert set(statuses) <= {"deployed", "cancelled"}
    assert views.status(kit.ctx).active_run is None
    again = operations.deploy_all(kit.ctx)
    assert items_of(kit, again.run_id).values().__len__() == 12
    assert views.status(kit.ctx).fully_upgraded


def test_cancel_from_another_caller_through_the_database(kit: Kit) -> None:
    kit.publish(*(kit.bundle(f"Mod{i:02d}") for i in range(6)))
    operations.upgrade(kit.ctx, "11.19.0")
    seen = threading.Event()
    with held(lambda sink: operations.deploy_all(kit.ctx, workers=1, on_event=sink, cancel=seen)) as run:
        ref = operations.cancel_run(kit.ctx)
        assert ref.kind == "deploy-all"
        # The run's heartbeat picks the request up even while its coordinator is busy.
        assert seen.wait(10), "the heartbeat never saw the cancel request"
    assert run.outcome is not None and run.outcome.status == "cancelled"


def test_a_run_held_up_longer_than_the_stale_limit_is_not_taken_as_dead(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.engine.identity import utcnow
    from app.engine.runs import records as runs
    from app.engine.store.models import RunRow

    monkeypatch.setattr(runs, "HEARTBEAT_INTERVAL", 0.05)
    monkeypatch.setattr(runs, "STALE_AFTER", timedelta(seconds=0.5))
    kit.publish(kit.bundle("Slow1"), kit.bundle("Slow2"))
    operations.upgrade(kit.ctx, "11.19.0")
    with held(lambda sink: operations.deploy_all(kit.ctx, workers=1, on_event=sink)) as run:
        with kit.ctx.db.write() as session:
            first = session.get(RunRow, views.status(kit.ctx).active_runs[0].id)
            assert first is not None
            beat = first.heartbeat_at
        threading.Event().wait(1.0)  # twice the stale limit, with the coordinator blocked
        with kit.ctx.db.read() as session:
            current = session.get(RunRow, first.id)
            assert current is not None and current.heartbeat_at > beat
            assert utcnow() - current.heartbeat_at < runs.STALE_AFTER
    assert run.outcome is not None and run.outcome.status == "succeeded"


def test_a_module_gone_from_a_front_end_is_not_deployed_and_the_next_run_restores_it(tmp_path: Path) -> None:
    import shutil

    kit = make_kit(tmp_path, frontends=2)
    try:
        kit.publish(kit.bundle("Kept"), kit.bundle("Lost"))
        operations.upgrade(kit.ctx, "11.19.0")
        operations.deploy_all(kit.ctx)
        shutil.rmtree(kit.frontends[1] / "Lost")  # someone cleaned one front-end by hand

        plan = {i.module: i for i in operations.plan_deploy_all(kit.ctx).items}
        assert plan["Kept"].reason == "already-deployed"
        assert plan["Lost"].deploys and str(kit.frontends[1]) in (plan["Lost"].detail or "")
        again = operations.deploy_all(kit.ctx)
        assert items_of(kit, again.run_id) == {"Kept": ("skipped", "already-deployed"), "Lost": ("deployed", None)}
        assert kit.current("Lost", 1) == kit.current("Lost", 0)
        assert views.verify(kit.ctx).drift == ()
    finally:
        kit.ctx.close()


def test_a_big_deploy_all_works_in_batches_that_share_disk_flushes(kit: Kit) -> None:
    names = [f"Mod{i:02d}" for i in range(48)]
    kit.publish(*(kit.bundle(name) for name in names))
    operations.upgrade(kit.ctx, "11.19.0")
    before = durability.flush_count()
    started: list[str] = []

    def sink(event: Event) -> None:
        if isinstance(event, ItemStarted):
            started.append(event.module)

    outcome = operations.deploy_all(kit.ctx, workers=1, on_event=sink)
    assert outcome.status == "succeeded" and sorted(started) == names
    assert all("11.19.0" in (kit.current(name) or "") for name in names)
    if durability.flush_group(kit.frontends[0]) is not None:  # where syncfs works
        # One module at a time would take at least two flushes each.
        assert durability.flush_count() - before < len(names)
