"""A rolling run on a farm with hooks: drain, switch, check, soak, undrain, one front-end at a
time; and the switch back, through the hooks, when a hook or a check fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.events import Event, FrontendPhase, RolloutPhase
from app.engine.kinds import drains
from app.engine.read import views
from app.engine.runs.options import RunOptions
from app.engine.vocabulary import ItemStatus, ModuleState, RunStatus
from tests.engine.farm.farmkit import FRONTENDS, Farm, farm


@pytest.fixture
def hooked(tmp_path: Path) -> Iterator[Farm]:
    with farm(tmp_path) as made:
        yield made


def phases(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.frontend, e.phase.value) for e in events if isinstance(e, FrontendPhase)]


def test_each_front_end_is_drained_switched_checked_soaked_and_undrained_before_the_next(hooked: Farm) -> None:
    old = hooked.currents()[0]
    events: list[Event] = []

    done = operations.deploy_all(hooked.kit.ctx, options=RunOptions(rolling=True, soak=0.5), on_event=events.append)

    assert done.status == RunStatus.SUCCEEDED
    new = hooked.currents()[0]
    assert new != old and hooked.currents() == [new] * 3
    # Drained while it ran the old release, undrained once it ran the new one, one at a time.
    assert hooked.calls() == [call for name in FRONTENDS for call in (("drain", name, old), ("undrain", name, new))]
    steps = ["drained", "switching", "health", "soaking", "healthy", "undrained"]
    assert phases(events) == [(name, step) for name in FRONTENDS for step in steps]
    soaks = [e for e in events if isinstance(e, FrontendPhase) and e.phase == RolloutPhase.SOAKING]
    assert {e.seconds for e in soaks} == {0.5}
    assert hooked.health.hits["/fe1"] >= 3, "fe1 was checked after its switch and during the later soaks"
    assert {i.status for i in views.run_detail(hooked.kit.ctx, done.run_id).items} == {ItemStatus.DEPLOYED}
    assert all(fe.drained_by is None for fe in views.status(hooked.kit.ctx).frontends)
    assert views.verify(hooked.kit.ctx).drift == ()


def test_a_failure_during_the_soak_of_the_second_front_end_switches_both_back(hooked: Farm) -> None:
    old = {module: hooked.currents(module) for module in ("Alpha", "Beta")}
    events: list[Event] = []

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, FrontendPhase) and (event.frontend, event.phase) == ("fe2", RolloutPhase.SOAKING):
            new = hooked.kit.current("Alpha", 1)
            assert new is not None
            hooked.health.bad_on["fe2"] = {new}  # the new release goes bad on fe2 while it soaks

    done = operations.deploy_all(hooked.kit.ctx, options=RunOptions(rolling=True, soak=3), on_event=sink)

    assert done.status == RunStatus.FAILED
    reason = f"during the soak, health URL {hooked.url}/fe2 of front-end fe2 answered 500 Internal Server Error"
    for item in views.run_detail(hooked.kit.ctx, done.run_id).items:
        assert (item.status, item.reason) == (ItemStatus.FAILED, reason)
        assert item.frontends == {"fe1": "switched back", "fe2": "switched back", "fe3": "staged"}
    assert {module: hooked.currents(module) for module in old} == old
    new = hooked.calls()[1][2]
    assert hooked.calls() == [
        ("drain", "fe1", old["Alpha"][0]),
        ("undrain", "fe1", new),
        ("drain", "fe2", old["Alpha"][1]),
        ("undrain", "fe2", old["Alpha"][1]),  # switched back while still drained, then undrained
        ("drain", "fe1", new),  # then fe1, through its hooks
        ("undrain", "fe1", old["Alpha"][0]),
    ]
    assert ("fe2", "switched back") in phases(events) and ("fe1", "switched back") in phases(events)
    assert "fe3" not in {name for name, _phase in phases(events)}
    assert views.verify(hooked.kit.ctx).drift == ()
    assert {m.state for m in views.modules(hooked.kit.ctx)} == {ModuleState.READY}
    assert all(fe.drained_by is None for fe in views.status(hooked.kit.ctx).frontends)


def test_a_drain_that_fails_switches_back_the_front_ends_before_it(hooked: Farm) -> None:
    old = hooked.currents()
    hooked.fail("drain", "fe2", 7)

    done = operations.deploy_all(hooked.kit.ctx, options=RunOptions(rolling=True))

    assert done.status == RunStatus.FAILED
    reason = "drain command of front-end fe2 failed (exit 7): balancer refused drain of fe2"
    items = views.run_detail(hooked.kit.ctx, done.run_id).items
    assert {(i.status, i.reason) for i in items} == {(ItemStatus.FAILED, reason)}
    assert all(i.frontends == {"fe1": "switched back", "fe2": "staged", "fe3": "staged"} for i in items)
    assert hooked.currents() == old
    new = hooked.calls()[1][2]
    assert hooked.calls() == [
        ("drain", "fe1", old[0]),
        ("undrain", "fe1", new),
        ("drain", "fe2", old[1]),  # failed: fe2 was never switched, and is put back at once
        ("undrain", "fe2", old[1]),
        ("drain", "fe1", new),
        ("undrain", "fe1", old[0]),
    ]
    assert views.verify(hooked.kit.ctx).drift == ()
    assert all(fe.drained_by is None for fe in views.status(hooked.kit.ctx).frontends)


def test_an_undrain_that_fails_switches_back_and_the_next_command_undrains(hooked: Farm) -> None:
    old = hooked.currents()
    hooked.fail("undrain", "fe2")

    done = operations.deploy_all(hooked.kit.ctx, options=RunOptions(rolling=True))

    assert done.status == RunStatus.FAILED
    reason = "undrain command of front-end fe2 failed (exit 1): balancer refused undrain of fe2"
    assert {i.reason for i in views.run_detail(hooked.kit.ctx, done.run_id).items} == {reason}
    assert hooked.currents() == old
    new = hooked.calls()[1][2]
    assert hooked.calls() == [
        ("drain", "fe1", old[0]),
        ("undrain", "fe1", new),
        ("drain", "fe2", old[1]),
        ("undrain", "fe2", new),  # failed
        ("undrain", "fe2", old[1]),  # switched back, and tried again: failed again
        # fe1 goes back without its drain: fe2 is still out of the balancer, and never two are
    ]
    assert views.verify(hooked.kit.ctx).drift == ()
    state = {fe.name: fe.drained_by for fe in views.status(hooked.kit.ctx).frontends}
    assert state == {"fe1": None, "fe2": done.run_id, "fe3": None}
    with pytest.raises(Exception, match="front-end fe2 is still drained, left so by run"):
        operations.deploy_all(hooked.kit.ctx, options=RunOptions(rolling=True))

    (hooked.root / "fail-undrain-fe2").unlink()  # the balancer is fixed
    again = operations.deploy_all(hooked.kit.ctx, options=RunOptions(rolling=True))

    assert again.status == RunStatus.SUCCEEDED
    assert hooked.calls()[5:8] == [
        ("undrain", "fe2", old[1]),  # tried by the refused command first, and failed
        ("undrain", "fe2", old[1]),  # by the next one, before it drained anything
        ("drain", "fe1", old[0]),
    ]
    assert all(fe.drained_by is None for fe in views.status(hooked.kit.ctx).frontends)


def test_a_hook_that_hangs_is_stopped_at_its_limit_and_fails(hooked: Farm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drains, "HOOK_LIMIT", 1.0)
    old = hooked.currents()
    hooked.hang("drain", "fe1")

    done = operations.deploy_all(hooked.kit.ctx, options=RunOptions(rolling=True))

    assert done.status == RunStatus.FAILED
    reason = "drain command of front-end fe1 did not finish within 1 s and was stopped"
    assert {i.reason for i in views.run_detail(hooked.kit.ctx, done.run_id).items} == {reason}
    assert hooked.currents() == old
    assert [(phase, name) for phase, name, _c in hooked.calls()] == [("drain", "fe1"), ("undrain", "fe1")]


def test_a_module_url_is_checked_for_every_module_switched_there(tmp_path: Path) -> None:
    with farm(tmp_path, drain=False, url="/{frontend}/{module}") as made:
        done = operations.deploy_all(made.kit.ctx, options=RunOptions(rolling=True))
        assert done.status == RunStatus.SUCCEEDED
        assert {path for path in made.health.hits} == {f"/{fe}/{m}" for fe in FRONTENDS for m in ("Alpha", "Beta")}


def test_a_soak_without_rolling_follows_the_whole_switch_and_rolls_the_run_back(hooked: Farm) -> None:
    old = {module: hooked.currents(module) for module in ("Alpha", "Beta")}
    events: list[Event] = []

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, FrontendPhase) and event.phase == RolloutPhase.SOAKING and event.frontend == "fe3":
            hooked.health.bad_on["fe3"] = {hooked.kit.current("Beta", 2) or ""}

    done = operations.deploy_all(hooked.kit.ctx, options=RunOptions(soak=2), on_event=sink)

    assert done.status == RunStatus.FAILED
    reason = f"during the soak, health URL {hooked.url}/fe3 of front-end fe3 answered 500 Internal Server Error"
    items = views.run_detail(hooked.kit.ctx, done.run_id).items
    assert {(i.status, i.reason) for i in items} == {(ItemStatus.FAILED, reason)}
    assert all(set(i.frontends.values()) == {"switched back"} for i in items if i.frontends)
    assert {module: hooked.currents(module) for module in old} == old
    # No drain before the whole switch; each front-end through its hooks on the way back, last first.
    assert [(phase, name) for phase, name, _c in hooked.calls()] == [
        (phase, name) for name in reversed(FRONTENDS) for phase in ("drain", "undrain")
    ]
    assert views.verify(hooked.kit.ctx).drift == ()
    assert {m.state for m in views.modules(hooked.kit.ctx)} == {ModuleState.READY}


def test_a_soak_without_rolling_that_passes_deploys(hooked: Farm) -> None:
    done = operations.deploy_all(hooked.kit.ctx, options=RunOptions(soak=0.5))
    assert done.status == RunStatus.SUCCEEDED
    items = views.run_detail(hooked.kit.ctx, done.run_id).items
    assert {i.status for i in items} == {ItemStatus.DEPLOYED}
    assert all("switched together, then soaked" in (i.message or "") for i in items)
    assert hooked.calls() == []
    assert views.status(hooked.kit.ctx).fully_upgraded


def test_a_cancel_during_a_soak_switches_the_farm_back_and_the_run_ends_cancelled(hooked: Farm) -> None:
    old = hooked.currents()
    cancel = threading.Event()

    def sink(event: Event) -> None:
        if isinstance(event, FrontendPhase) and (event.frontend, event.phase) == ("fe1", RolloutPhase.SOAKING):
            cancel.set()  # as Ctrl-C or the window's Cancel would, while fe1, drained, soaks for a minute

    began = time.monotonic()
    done = operations.deploy_all(
        hooked.kit.ctx, options=RunOptions(rolling=True, soak=60), on_event=sink, cancel=cancel
    )

    assert time.monotonic() - began < 50, "the soak stopped at the cancel"
    assert done.status == RunStatus.CANCELLED
    items = views.run_detail(hooked.kit.ctx, done.run_id).items
    assert {(i.status, i.reason) for i in items} == {(ItemStatus.CANCELLED, "cancelled")}
    assert hooked.currents() == old
    new = {i.module: i.frontends for i in items}
    assert new["Alpha"] == {"fe1": "switched back", "fe2": "staged", "fe3": "staged"}
    assert hooked.calls() == [("drain", "fe1", old[0]), ("undrain", "fe1", old[0])]  # switched back while drained
    assert views.verify(hooked.kit.ctx).drift == ()
