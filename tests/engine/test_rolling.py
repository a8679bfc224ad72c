"""Rolling runs (rules.md#rolling): one front-end at a time, each switch followed by its health check."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import update

from app.engine import operations
from app.engine.errors import BadInputError
from app.engine.events import (
    Event,
    FrontendPhase,
    FrontendSwitched,
    ItemFinished,
    RolloutPhase,
    RunStarted,
)
from app.engine.read import views
from app.engine.runs.options import RunOptions
from app.engine.store.models import FrontendRow
from app.engine.vocabulary import ItemStatus, ModuleState, RunStatus
from tests.engine.envkit import Kit, make_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(tmp_path, frontends=3)
    k.publish(k.bundle("Alpha"), k.bundle("Beta", depends=["Alpha"]))
    operations.upgrade(k.ctx, "11.19.0")
    yield k
    k.ctx.close()


def set_health(kit: Kit, commands: dict[str, str]) -> None:
    """Each front-end's health command; a failing one is tried for a second before it fails the switch."""
    with kit.ctx.db.write() as session:
        for name, command in commands.items():
            session.execute(
                update(FrontendRow).where(FrontendRow.name == name).values(health_cmd=command, health_timeout=1)
            )


def recorder(kit: Kit, log: Path) -> str:
    """A health command that writes its front-end's name and what each front-end runs for Alpha."""
    files = " ".join(shlex.quote(str(fe / "Alpha" / "CURRENT")) for fe in kit.frontends)
    return f'echo "$DEPLOYCENTER_FRONTEND $(cat {files} | tr "\\n" " ")" >> {shlex.quote(str(log))}'


def test_each_front_end_switches_alone_and_is_checked_before_the_next(kit: Kit, tmp_path: Path) -> None:
    old = kit.current("Alpha")
    log = tmp_path / "checks.log"
    set_health(kit, {"fe1": recorder(kit, log), "fe2": recorder(kit, log), "fe3": recorder(kit, log)})

    done = operations.deploy_all(kit.ctx, options=RunOptions(rolling=True))

    assert done.status == RunStatus.SUCCEEDED
    new = kit.current("Alpha")
    assert new != old
    checks = [line.split() for line in log.read_text().splitlines()]
    assert checks == [
        ["fe1", new, old, old],
        ["fe2", new, new, old],
        ["fe3", new, new, new],
    ]
    detail = views.run_detail(kit.ctx, done.run_id)
    assert {i.module: i.status for i in detail.items} == {"Alpha": ItemStatus.DEPLOYED, "Beta": ItemStatus.DEPLOYED}
    assert all(i.frontends == {"fe1": "live", "fe2": "live", "fe3": "live"} for i in detail.items)
    assert views.verify(kit.ctx).drift == ()
    assert views.status(kit.ctx).fully_upgraded


REASON = "health check of front-end fe2 failed (exit 3): port 8080 is closed (tried "


def test_a_failed_check_switches_back_that_front_end_and_those_before_it(kit: Kit) -> None:
    old = {name: [kit.current(name, i) for i in range(3)] for name in ("Alpha", "Beta")}
    set_health(kit, {"fe1": "true", "fe2": "echo 'port 8080 is closed' >&2; exit 3"})
    events: list[Event] = []

    done = operations.deploy_all(kit.ctx, options=RunOptions(rolling=True), on_event=events.append)

    assert done.status == RunStatus.FAILED
    waves = [event for event in events if isinstance(event, FrontendSwitched)]
    assert waves[0] == FrontendSwitched(done.run_id, "fe1", 2, True, None)
    assert waves[1].frontend == "fe2" and (waves[1].problem or "").startswith(REASON)
    assert len(waves) == 2
    for item in views.run_detail(kit.ctx, done.run_id).items:
        assert item.status == ItemStatus.FAILED
        assert (item.reason or "").startswith(REASON) and item.reason == waves[1].problem
        assert item.frontends == {"fe1": "switched back", "fe2": "switched back", "fe3": "staged"}
    assert {name: [kit.current(name, i) for i in range(3)] for name in old} == old
    assert views.verify(kit.ctx).drift == ()
    assert {m.state for m in views.modules(kit.ctx)} == {ModuleState.READY}


def test_a_rolling_rollback_and_publish_solution(kit: Kit) -> None:
    old = kit.current("Alpha")
    deployed = operations.deploy_all(kit.ctx)
    back = operations.rollback_run(kit.ctx, deployed.run_id, options=RunOptions(rolling=True))
    assert back.status == RunStatus.SUCCEEDED
    assert [kit.current("Alpha", i) for i in range(3)] == [old] * 3
    again = operations.publish_solution(kit.ctx, options=RunOptions(rolling=True))
    assert again.status == RunStatus.SUCCEEDED
    assert {i.status for i in views.run_detail(kit.ctx, again.run_id).items} == {ItemStatus.DEPLOYED}
    assert views.status(kit.ctx).fully_upgraded
    assert views.verify(kit.ctx).drift == ()


def test_rolling_needs_two_enabled_front_ends(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, frontends=1)
    try:
        kit.publish(kit.bundle("Alpha"))
        runs = len(views.run_summaries(kit.ctx))
        with pytest.raises(BadInputError, match="--rolling needs at least two enabled front-ends"):
            operations.deploy_all(kit.ctx, options=RunOptions(rolling=True))
        with pytest.raises(BadInputError, match="--rolling needs at least two enabled front-ends"):
            operations.publish_solution(kit.ctx, options=RunOptions(rolling=True))
        assert len(views.run_summaries(kit.ctx)) == runs
    finally:
        kit.ctx.close()


def test_a_rolling_run_says_its_front_ends_in_order_and_when_each_step_begins(kit: Kit) -> None:
    """The window shows the phases: the first event names the front-ends, each step says when it began."""
    set_health(kit, {"fe2": "true"})
    events: list[Event] = []

    done = operations.deploy_all(kit.ctx, options=RunOptions(rolling=True), on_event=events.append)

    assert done.status == RunStatus.SUCCEEDED
    started = next(event for event in events if isinstance(event, RunStarted))
    assert started.switch_order == ("fe1", "fe2", "fe3")
    steps = [
        (event.frontend, event.phase if isinstance(event, FrontendPhase) else "done")
        for event in events
        if isinstance(event, FrontendPhase | FrontendSwitched)
    ]
    switching, health, healthy = RolloutPhase.SWITCHING, RolloutPhase.HEALTH, RolloutPhase.HEALTHY
    assert steps == [
        ("fe1", switching), ("fe1", health), ("fe1", "done"), ("fe1", healthy),
        ("fe2", switching), ("fe2", health), ("fe2", "done"), ("fe2", healthy),
        ("fe3", switching), ("fe3", health), ("fe3", "done"), ("fe3", healthy),
    ]  # fmt: skip
    phases = [event for event in events if isinstance(event, FrontendPhase)]
    assert all(a.at <= b.at for a, b in pairwise(phases))
    last_staged = max(
        n for n, event in enumerate(events) if isinstance(event, ItemFinished) and event.status == ItemStatus.STAGED
    )
    assert last_staged < events.index(phases[0]), "every module is staged before the first switch"


def test_a_run_that_is_not_rolling_names_no_front_end_order(kit: Kit) -> None:
    events: list[Event] = []
    operations.deploy_all(kit.ctx, on_event=events.append)
    started = next(event for event in events if isinstance(event, RunStarted))
    assert started.switch_order == ()
    assert not [event for event in events if isinstance(event, FrontendPhase)]
