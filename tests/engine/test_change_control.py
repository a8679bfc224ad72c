"""Change control in the engine: saved plans run exactly, stale plans and missing approvals are
refused, windows and freezes decide when a change starts, and a run stops switching when its
window closes. Time is moved with time-machine."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from app.engine import operations
from app.engine.audit import audit_entries
from app.engine.context import Location
from app.engine.control import gate, settings
from app.engine.control import plans as saved_plans
from app.engine.control.document import PlanDocument, PlanTarget, read_plan_file
from app.engine.control.entry import DEPLOY, SKIP
from app.engine.control.gate import ChangeRequest
from app.engine.errors import BadInputError, Refusal, RefusedError
from app.engine.events import Event, FrontendSwitched, ItemFinished
from app.engine.farm_admin import add_frontend, set_enabled
from app.engine.policy import PolicyChange, set_policy
from app.engine.read import views
from app.engine.read.quick_status import read_status
from app.engine.runs.options import PLAIN_RUN, RunOptions
from app.engine.store.models import ChangeFreezeRow, PlanApprovalRow, SavedPlanRow
from app.engine.vocabulary import ItemStatus, ModuleState, RunKind, RunStatus
from tests.engine.envkit import Kit, make_kit

# Saturday 5 December 2026 in Lisbon (WET, UTC+0): the window below is Sat 22:00 for 4 hours.
BEFORE_WINDOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
IN_WINDOW = datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
MODULES = ("Alpha", "Beta", "Gamma")


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kit]:
    """Alpha, Beta (consumes Alpha) and Gamma (with a configuration) on two front-ends, published on
    11.18.1 and prepared for 11.19.0: all three ready, made by alice."""
    as_identity(monkeypatch, "alice")
    k = make_kit(tmp_path, frontends=2)
    k.publish(k.bundle("Alpha"), k.bundle("Beta", depends=["Alpha"]), k.bundle("Gamma", config={"MaxRows": "10"}))
    operations.upgrade(k.ctx, "11.19.0")
    yield k
    k.ctx.close()


def as_identity(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """On SQLite the approving identity is the login name (getpass reads LOGNAME first) at this host."""
    monkeypatch.setenv("LOGNAME", name)
    monkeypatch.setenv("USER", name)


_files = itertools.count(1)
EVERY_MODULE = PlanTarget()


def save(
    kit: Kit,
    kind: RunKind = RunKind.DEPLOY_ALL,
    target: PlanTarget = EVERY_MODULE,
    options: RunOptions = PLAIN_RUN,
    module_ids: list[int] | None = None,
) -> PlanDocument:
    path = kit.root / f"plan-{next(_files)}.json"
    saved_plans.save_plan(kit.ctx, kind, target, options, path, module_ids)
    return read_plan_file(path)


def run_plan(kit: Kit, plan: PlanDocument) -> operations.RunOutcome:
    return operations.deploy_all(kit.ctx, options=plan.options, change=ChangeRequest(plan=plan))


def statuses(kit: Kit, run_id: int) -> dict[str, tuple[str, str | None]]:
    return {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, run_id).items}


def refusal_of(call: Callable[[], object]) -> RefusedError:
    with pytest.raises(RefusedError) as raised:
        call()
    return raised.value


# -- saved plans -----------------------------------------------------------------------------------


def test_a_saved_plan_is_the_dry_run_and_its_run_does_exactly_it(kit: Kit) -> None:
    operations.deploy_modules(kit.ctx, operations.resolve_modules(kit.ctx, ["Gamma"]))
    plan = save(kit)

    dry = operations.plan_deploy_all(kit.ctx)
    assert {i["module"]: i["action"] for i in plan.items} == {
        item.module: DEPLOY if item.deploys else SKIP for item in dry.items
    }
    assert {i["module"]: i["version"] for i in plan.items} == {item.module: item.version for item in dry.items}
    assert plan.content["created_by"].startswith("alice@") and plan.kind == RunKind.DEPLOY_ALL

    outcome = run_plan(kit, plan)

    assert outcome.status == RunStatus.SUCCEEDED
    deploys = [i for i in plan.items if i["action"] == DEPLOY]
    assert {i["module"] for i in deploys} == {"Alpha", "Beta"}
    assert statuses(kit, outcome.run_id) == {
        "Alpha": (ItemStatus.DEPLOYED, None),
        "Beta": (ItemStatus.DEPLOYED, None),
        "Gamma": (ItemStatus.SKIPPED, "already-deployed"),
    }
    for item in deploys:  # the release the plan named is the one CURRENT names on every front-end
        assert [kit.current(item["module"], n) for n in (0, 1)] == [item["release"]] * 2
    assert views.verify(kit.ctx).drift == ()


def test_a_plan_runs_once(kit: Kit) -> None:
    plan = save(kit)
    run = run_plan(kit, plan)
    refused = refusal_of(lambda: run_plan(kit, plan))
    assert refused.refusal == Refusal.STALE_PLAN and f"run {run.run_id}" in refused.message


def _publish(kit: Kit) -> str:
    kit.publish(kit.bundle("Alpha", code="VERSION = 2\n"))
    return "version 1 -> 2 (published since)"


def _upgrade(kit: Kit) -> str:
    operations.upgrade(kit.ctx, "11.19.1")
    return "platform 11.19.0 -> 11.19.1"


def _configure(kit: Kit) -> str:
    operations.apply_config(kit.ctx, "Gamma", {"MaxRows": "20"})
    return "Gamma: configuration applied since"


def _add_frontend(kit: Kit) -> str:
    add_frontend(kit.ctx, "fe3", str(kit.root / "fe3"))
    return "front-end fe3 added"


def _disable_frontend(kit: Kit) -> str:
    set_enabled(kit.ctx, "fe2", False)
    return "front-end fe2 disabled"


def _deploy_elsewhere(kit: Kit) -> str:
    operations.deploy_modules(kit.ctx, operations.resolve_modules(kit.ctx, ["Alpha"]))
    return "Alpha: deploy -> skip (already-deployed)"


@pytest.mark.parametrize(
    "change", [_publish, _upgrade, _configure, _add_frontend, _disable_frontend, _deploy_elsewhere]
)
def test_a_plan_made_before_a_change_is_refused_naming_it(kit: Kit, change: Callable[[Kit], str]) -> None:
    plan = save(kit)
    expected = change(kit)
    before = [kit.current(name) for name in MODULES]

    refused = refusal_of(lambda: run_plan(kit, plan))

    assert refused.exit_code == 3 and refused.refusal == Refusal.STALE_PLAN
    assert any(expected in detail for detail in refused.details), refused.details
    assert expected in refused.message
    assert [kit.current(name) for name in MODULES] == before  # nothing switched
    assert audit_entries(kit.ctx, 1)[0].result == "refused"


def test_enabling_a_front_end_and_rolling_back_another_run_make_a_plan_stale(kit: Kit) -> None:
    deployed = operations.deploy_all(kit.ctx)
    set_enabled(kit.ctx, "fe2", False)
    plan = save(kit)
    set_enabled(kit.ctx, "fe2", True)
    operations.rollback_run(kit.ctx, deployed.run_id)

    refused = refusal_of(lambda: run_plan(kit, plan))

    assert "front-end fe2 enabled" in refused.details
    assert "Alpha: skip -> deploy" in refused.details, refused.details


def test_plans_of_every_planned_kind_save_and_run(kit: Kit) -> None:
    assert set(saved_plans.PLANNERS) == {kind for kind in RunKind if kind.traits.planned}
    alpha = operations.resolve_modules(kit.ctx, ["Alpha"])
    deploy = save(kit, RunKind.DEPLOY, module_ids=alpha)
    assert deploy.target.modules == ("Alpha",)
    first = operations.deploy_modules(kit.ctx, alpha, change=ChangeRequest(plan=deploy))
    rollback = save(kit, RunKind.ROLLBACK, PlanTarget(run=first.run_id))
    back = operations.rollback_run(kit.ctx, first.run_id, change=ChangeRequest(plan=rollback))
    assert statuses(kit, back.run_id)["Alpha"] == (ItemStatus.DEPLOYED, None)
    solution = save(kit, RunKind.PUBLISH_SOLUTION, module_ids=alpha)
    assert [(i["module"], i["action"], i["release"]) for i in solution.items] == [("Alpha", "recompile", None)]
    again = operations.publish_solution(kit.ctx, alpha, change=ChangeRequest(plan=solution))
    assert again.status == RunStatus.SUCCEEDED


def test_a_plan_keeps_the_options_it_was_made_with(kit: Kit) -> None:
    plan = save(kit, options=RunOptions(rolling=True))
    assert plan.options == RunOptions(rolling=True)
    outcome = run_plan(kit, plan)
    assert views.run_detail(kit.ctx, outcome.run_id).summary.status == RunStatus.SUCCEEDED
    with kit.ctx.db.read() as session:
        from app.engine.store.models import RunRow

        run = session.get(RunRow, outcome.run_id)
        assert run is not None and run.rolling


def test_an_edited_or_foreign_plan_file_is_bad_input_and_stores_nothing(kit: Kit, tmp_path: Path) -> None:
    path = kit.root / "edited.json"
    saved_plans.save_plan(kit.ctx, RunKind.DEPLOY_ALL, PlanTarget(), PLAIN_RUN, path)
    path.write_text(path.read_text().replace('"deploy"', '"skip"', 1))
    with pytest.raises(BadInputError, match="does not match its plan_id"):
        read_plan_file(path)
    path.write_text("{not json")
    with pytest.raises(BadInputError, match="not JSON"):
        read_plan_file(path)

    other = make_kit(tmp_path / "other")
    try:
        other.publish(other.bundle("Alpha"))
        foreign_path = other.root / "foreign.json"
        saved_plans.save_plan(other.ctx, RunKind.DEPLOY_ALL, PlanTarget(), PLAIN_RUN, foreign_path)
    finally:
        other.ctx.close()
    foreign = read_plan_file(foreign_path)
    with pytest.raises(BadInputError, match="not saved by this environment"):
        run_plan(kit, foreign)
    with pytest.raises(BadInputError, match="not saved by this environment"):
        saved_plans.approve_plan(kit.ctx, foreign)
    with kit.ctx.db.read() as session:
        assert session.query(PlanApprovalRow).count() == 0
        assert session.query(SavedPlanRow).count() == 1


def test_a_plan_file_that_cannot_be_written_leaves_nothing_stored(kit: Kit) -> None:
    with pytest.raises(BadInputError, match="cannot write plan file"):
        saved_plans.save_plan(kit.ctx, RunKind.DEPLOY_ALL, PlanTarget(), PLAIN_RUN, kit.root / "no" / "p.json")
    assert saved_plans.saved_plans(kit.ctx) == []


# -- approvals ---------------------------------------------------------------------------------------


def test_approvals_come_from_others_once_each_and_the_run_needs_them_all(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_policy(kit.ctx, PolicyChange(approvals=2))
    refused = refusal_of(lambda: operations.deploy_all(kit.ctx))
    assert refused.refusal == Refusal.APPROVALS and "no plan was given" in refused.message
    plan = save(kit)

    assert "has 0 of the 2" in refusal_of(lambda: run_plan(kit, plan)).message
    monkeypatch.setenv("DEPLOYCENTER_USER", "bob")  # names runs for display; never an identity
    own = refusal_of(lambda: saved_plans.approve_plan(kit.ctx, plan))
    assert own.refusal == Refusal.APPROVALS and "someone else" in own.message
    as_identity(monkeypatch, "bob")
    assert saved_plans.approve_plan(kit.ctx, plan, "checked the list").had == 1
    twice = refusal_of(lambda: saved_plans.approve_plan(kit.ctx, plan))
    assert twice.refusal == Refusal.APPROVALS and "already approved" in twice.message
    as_identity(monkeypatch, "alice")
    assert "has 1 of the 2" in refusal_of(lambda: run_plan(kit, plan)).message
    as_identity(monkeypatch, "carol")
    assert saved_plans.approve_plan(kit.ctx, plan).had == 2

    as_identity(monkeypatch, "alice")
    assert run_plan(kit, plan).status == RunStatus.SUCCEEDED
    summary = saved_plans.saved_plans(kit.ctx)[0]
    assert [a.identity.split("@")[0] for a in summary.approvals] == ["bob", "carol"]
    assert summary.approvals[0].comment == "checked the list" and summary.run_id is not None
    trail = [(e.operation, e.result) for e in audit_entries(kit.ctx, 50)]
    assert trail.count(("approve", "approved")) == 2 and ("approve", "refused") in trail


def test_an_approval_can_be_revoked_by_its_maker_only(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    set_policy(kit.ctx, PolicyChange(approvals=1))
    plan = save(kit)
    as_identity(monkeypatch, "bob")
    saved_plans.approve_plan(kit.ctx, plan)
    as_identity(monkeypatch, "carol")
    with pytest.raises(BadInputError, match="no approval"):
        saved_plans.revoke_approval(kit.ctx, plan)
    as_identity(monkeypatch, "bob")
    assert saved_plans.revoke_approval(kit.ctx, plan).had == 0
    as_identity(monkeypatch, "alice")
    assert refusal_of(lambda: run_plan(kit, plan)).refusal == Refusal.APPROVALS
    assert ("approval-needed", "waiting") in [(e.operation, e.result) for e in audit_entries(kit.ctx, 10)]


def test_a_stale_plan_cannot_be_approved_and_plans_says_why(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    set_policy(kit.ctx, PolicyChange(approvals=1))
    plan = save(kit)
    _configure(kit)
    as_identity(monkeypatch, "bob")
    refused = refusal_of(lambda: saved_plans.approve_plan(kit.ctx, plan))
    assert refused.refusal == Refusal.STALE_PLAN
    listed = saved_plans.saved_plans(kit.ctx)[0]
    assert not listed.current and listed.stale == ("Gamma: configuration applied since",)
    assert listed.approvals == ()


def test_with_approvals_required_a_publish_compiles_and_deploys_nothing(kit: Kit) -> None:
    set_policy(kit.ctx, PolicyChange(approvals=1))
    live = kit.current("Alpha")
    outcome = kit.publish(kit.bundle("Alpha", code="VERSION = 3\n"))
    assert outcome.status == RunStatus.SUCCEEDED
    assert statuses(kit, outcome.run_id) == {"Alpha": (ItemStatus.PREPARED, None)}
    assert kit.current("Alpha") == live
    alpha = next(m for m in views.modules(kit.ctx) if m.name == "Alpha")
    assert (alpha.latest_version, alpha.state) == (2, ModuleState.READY)
    assert any(i["module"] == "Alpha" and i["action"] == DEPLOY and i["version"] == 2 for i in save(kit).items)


# -- windows and freezes -------------------------------------------------------------------------------


def test_outside_every_window_a_change_is_refused_with_the_next_start(kit: Kit) -> None:
    with time_machine.travel(BEFORE_WINDOW, tick=False):
        settings.add_window(kit.ctx, "Sat 22:00", 4, "Europe/Lisbon")
        refused = refusal_of(lambda: operations.deploy_all(kit.ctx))
        assert refused.refusal == Refusal.WINDOW
        assert "Sat 2026-12-05 22:00 WET (Europe/Lisbon), 2026-12-05 22:00 UTC" in refused.message
        for call in (
            lambda: operations.apply_config(kit.ctx, "Gamma", {"MaxRows": "30"}),
            lambda: operations.delete_module(kit.ctx, "Gamma"),
        ):
            assert refusal_of(call).refusal == Refusal.WINDOW
        assert views.module_config(kit.ctx, "Gamma") == {"MaxRows": "10"}
        assert operations.stage_all(kit.ctx).status == RunStatus.SUCCEEDED  # staging switches nothing
        state = views.status(kit.ctx).change_control
        assert state is not None and not state.in_window
        assert state.to_json()["next_window"] == "2026-12-05T22:00:00+00:00"
    with time_machine.travel(IN_WINDOW, tick=False):
        assert operations.deploy_all(kit.ctx).status == RunStatus.SUCCEEDED


def test_override_window_starts_outside_a_window_with_its_reason_audited(kit: Kit) -> None:
    with time_machine.travel(BEFORE_WINDOW, tick=False):
        settings.add_window(kit.ctx, "Sat 22:00", 4, "Europe/Lisbon")
        outcome = operations.deploy_all(kit.ctx, change=ChangeRequest(override_reason="customer outage"))
        assert outcome.status == RunStatus.SUCCEEDED
        entries = audit_entries(kit.ctx, 10)
        override = next(e for e in entries if e.operation == "override-window")
        assert override.detail == f"run {outcome.run_id}: customer outage"
        operations.apply_config(kit.ctx, "Gamma", {"MaxRows": "30"}, override_reason="hotfix")
        assert views.module_config(kit.ctx, "Gamma") == {"MaxRows": "30"}


def test_inside_a_freeze_nothing_starts_not_even_with_an_override_but_an_emergency_rollback(kit: Kit) -> None:
    deployed = operations.deploy_all(kit.ctx)
    with time_machine.travel(BEFORE_WINDOW, tick=False):
        settings.add_freeze(kit.ctx, "2026-12-05T00:00", "2026-12-07T00:00", "Europe/Lisbon", "audit week")
        for change in (ChangeRequest(), ChangeRequest(override_reason="please")):
            refused = refusal_of(lambda change=change: operations.rollback_run(kit.ctx, deployed.run_id, change=change))  # type: ignore[misc]
            assert refused.refusal == Refusal.FREEZE and "audit week" in refused.message
            assert "2026-12-07 00:00 UTC" in refused.message

        back = operations.rollback_run(kit.ctx, deployed.run_id, change=ChangeRequest(emergency_reason="bad build"))

        assert back.status == RunStatus.SUCCEEDED
        emergency = next(e for e in audit_entries(kit.ctx, 10) if e.operation == "emergency")
        assert emergency.detail == f"rollback run {back.run_id}: bad build"
        state = views.status(kit.ctx).change_control
        assert state is not None and state.to_json()["active_freeze"] == "2026-12-07T00:00:00+00:00"


def test_a_run_still_switching_when_its_window_closes_starts_no_more_modules(kit: Kit) -> None:
    names = [f"M{n}" for n in range(8)]
    kit.publish(*(kit.bundle(name) for name in names))
    operations.upgrade(kit.ctx, "11.19.1")
    live = {name: kit.current(name) for name in names}
    with time_machine.travel(IN_WINDOW, tick=False) as traveller:
        settings.add_window(kit.ctx, "Sat 22:00", 4, "Europe/Lisbon")

        def sink(event: Event) -> None:
            if isinstance(event, ItemFinished):
                traveller.move_to(IN_WINDOW + timedelta(hours=4))  # the window closes meanwhile

        outcome = operations.deploy_all(kit.ctx, workers=1, on_event=sink)

    assert outcome.status == RunStatus.CANCELLED
    items = views.run_detail(kit.ctx, outcome.run_id).items
    stopped = [i for i in items if i.status == ItemStatus.CANCELLED]
    assert stopped and all(i.reason == "window-closed" for i in stopped)
    assert any(i.status == ItemStatus.DEPLOYED for i in items)
    for item in stopped:
        if item.module in live:
            assert kit.current(item.module) == live[item.module]
    assert views.verify(kit.ctx).drift == ()


def test_a_rolling_run_switches_back_when_its_window_closes_and_keeps_the_staged_releases(kit: Kit) -> None:
    before = {name: (kit.current(name, 0), kit.current(name, 1)) for name in MODULES}
    with time_machine.travel(IN_WINDOW, tick=False) as traveller:
        settings.add_window(kit.ctx, "Sat 22:00", 4, "Europe/Lisbon")

        def sink(event: Event) -> None:
            if isinstance(event, FrontendSwitched):
                traveller.move_to(IN_WINDOW + timedelta(hours=4))  # closes after the first front-end

        outcome = operations.deploy_all(kit.ctx, options=RunOptions(rolling=True), on_event=sink)

    assert outcome.status == RunStatus.CANCELLED
    assert statuses(kit, outcome.run_id) == {name: (ItemStatus.CANCELLED, "window-closed") for name in MODULES}
    assert {name: (kit.current(name, 0), kit.current(name, 1)) for name in MODULES} == before
    plan = operations.plan_deploy_all(kit.ctx)
    for item in plan.to_deploy:  # staged everywhere, ready for the next window's switch
        release = f"v{item.version}-11.19.0-{item.artifact_sha256[:12]}"  # type: ignore[index]
        assert all((folder / item.module / "releases" / release).is_dir() for folder in kit.frontends)
    assert views.verify(kit.ctx).drift == ()


def test_a_freeze_added_while_a_run_works_stops_it(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate, "DEADLINE_REFRESH", 0.0)
    names = [f"M{n}" for n in range(6)]
    kit.publish(*(kit.bundle(name) for name in names))
    operations.upgrade(kit.ctx, "11.19.1")
    added: list[int] = []

    def sink(event: Event) -> None:
        if isinstance(event, ItemFinished) and not added:
            added.append(settings.add_freeze(kit.ctx, "2026-01-01T00:00", "2099-01-01T00:00", "UTC", None).freeze.id)

    outcome = operations.deploy_all(kit.ctx, workers=1, on_event=sink)

    reasons = {i.reason for i in views.run_detail(kit.ctx, outcome.run_id).items if i.status == ItemStatus.CANCELLED}
    assert outcome.status == RunStatus.CANCELLED and reasons == {"freeze-started"}
    with kit.ctx.db.read() as session:
        assert session.query(ChangeFreezeRow).count() == 1


def test_the_quick_status_reader_tells_change_control_as_the_usual_path_does(kit: Kit) -> None:
    with time_machine.travel(BEFORE_WINDOW, tick=False):
        set_policy(kit.ctx, PolicyChange(approvals=2))
        settings.add_window(kit.ctx, "Sat 22:00", 4, "Europe/Lisbon")
        settings.add_freeze(kit.ctx, "2026-12-05T00:00", "2026-12-05T18:00", "Europe/Lisbon", "maintenance")
        quick = read_status(Location(kit.root / "env", None))
        usual = views.status(kit.ctx)
    assert quick is not None and quick.change_control is not None
    assert quick.change_control == usual.change_control
    assert quick.change_control.to_json() == {
        "approvals_required": 2,
        "in_window": False,
        "next_window": "2026-12-05T22:00:00+00:00",
        "active_freeze": "2026-12-05T18:00:00+00:00",
        "active_freeze_reason": "maintenance",
        "changes_allowed": False,
        "next_allowed": "2026-12-05T22:00:00+00:00",
    }


@pytest.mark.parametrize(
    "config",
    [{}, {"MaxRows": "10"}, {"b": "2", "a": "1"}, {"Quote": 'say "hi"\\n', "Ünï": "çødé ✓", "Tab": "a\tb\x01"}],
)
def test_a_plans_configuration_hash_is_the_sha256_of_the_config_json_written(config: dict[str, str]) -> None:
    import hashlib

    from app.engine.config import config_bytes
    from app.engine.control.entry import config_sha256

    assert config_sha256(config) == hashlib.sha256(config_bytes(config)).hexdigest()


def test_the_same_plan_saved_twice_in_a_second_is_one_plan(kit: Kit) -> None:
    with time_machine.travel(BEFORE_WINDOW, tick=False):
        first, second = save(kit), save(kit)
    assert first.plan_id == second.plan_id and len(saved_plans.saved_plans(kit.ctx)) == 1


def test_a_publish_follows_windows_unless_approvals_hold_back_what_it_deploys(kit: Kit) -> None:
    with time_machine.travel(BEFORE_WINDOW, tick=False):
        settings.add_window(kit.ctx, "Sat 22:00", 4, "Europe/Lisbon")
        refused = refusal_of(lambda: kit.publish(kit.bundle("Alpha", code="VERSION = 4\n")))
        assert refused.refusal == Refusal.WINDOW
        assert next(m for m in views.modules(kit.ctx) if m.name == "Alpha").latest_version == 1  # nothing stored
        set_policy(kit.ctx, PolicyChange(approvals=1))
        compiled = kit.publish(kit.bundle("Alpha", code="VERSION = 4\n"))  # changes no front-end: allowed
        assert statuses(kit, compiled.run_id) == {"Alpha": (ItemStatus.PREPARED, None)}
