"""Change control from the command line: bad input is exit 2 with one line and nothing stored,
every refusal's JSON names its kind, plans made and approved by two login names run with
``--plan``, and windows hold at other times of the year (the command runs under Debian's
``faketime``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.context import Location, open_context
from tests.bundles import write_bundle
from tests.conftest import REPO, Cli, Result, child_env
from tests.engine.envkit import held


def one_error_line(result: Result, code: int, text: str) -> dict[str, object]:
    assert result.code == code, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and text in lines[0] and "Traceback" not in result.err, result.err
    document: dict[str, object] = json.loads(result.out) if result.out.strip() else {}
    return document


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    """Alpha and Beta ready on 11.19.0 on two front-ends."""
    assert cli("init", "--frontend", str(tmp_path / "fe1"), "--frontend", str(tmp_path / "fe2")).code == 0
    bundles = [write_bundle(tmp_path / "b", "Alpha"), write_bundle(tmp_path / "b", "Beta", depends=["Alpha"])]
    assert cli("publish", *map(str, bundles)).code == 0
    assert cli("upgrade", "--to", "11.19.0").code == 0
    return cli


def test_bad_change_control_input_is_one_line_exit_2_and_stores_nothing(env: Cli, tmp_path: Path) -> None:
    cases = [
        (("window", "add", "Sat 22:00", "--hours", "4", "--tz", "Mars/Base"), "unknown time zone"),
        (("window", "add", "Caturday 22:00", "--hours", "4", "--tz", "UTC"), "weekday and a time"),
        (("window", "add", "Sat 22:00", "--hours", "0", "--tz", "UTC"), "--hours"),
        (("freeze", "add", "2026-12-24T00:00", "2026-12-20T00:00", "--tz", "UTC"), "ends (2026-12-20T00:00) before"),
        (("freeze", "add", "2026-12-24T00:00+01:00", "2026-12-30T00:00", "--tz", "UTC"), "offset"),
        (("freeze", "add", "Christmas", "2026-12-30T00:00", "--tz", "UTC"), "date-time"),
        (("policy", "set", "--approvals", "-1"), "must be 0 or more"),
        (("policy", "set"), "give at least one setting"),
        (("deploy-all", "--override-window"), "needs --reason"),
        (("deploy-all", "--reason", "why"), "--reason goes with"),
        (("window", "remove", "7"), "there is no window 7"),
    ]
    for args, text in cases:
        document = one_error_line(env(*args, "--json"), 2, text)
        assert document["exit_code"] == 2 and "refusal" not in document
    assert env("window", "list", "--json").json() == {"windows": []}
    assert env("freeze", "list", "--json").json() == {"freezes": []}
    assert env("status", "--json").json()["change_control"]["approvals_required"] == 0


def test_plan_files_that_are_not_this_environments_are_exit_2(
    env: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_text("not json at all")
    one_error_line(env("deploy-all", "--plan", str(garbage)), 2, "is not JSON")
    one_error_line(env("approve", str(garbage)), 2, "is not JSON")
    plan = tmp_path / "plan.json"
    assert env("deploy-all", "--plan-out", str(plan)).code == 0
    edited = tmp_path / "edited.json"
    edited.write_text(plan.read_text().replace('"rolling":false', '"rolling":true'))
    one_error_line(env("deploy-all", "--plan", str(edited)), 2, "does not match its plan_id")
    one_error_line(env("deploy", "Alpha", "--plan", str(plan)), 2, "is a plan for deploy-all")
    one_error_line(env("deploy-all", "--plan", str(plan), "--rolling"), 2, "--rolling differs")

    other = Cli(tmp_path / "other", capsys)
    assert other("init", "--frontend", str(tmp_path / "other-fe")).code == 0
    one_error_line(other("deploy-all", "--plan", str(plan)), 2, "not saved by this environment")
    one_error_line(other("approve", str(plan)), 2, "not saved by this environment")
    assert other("plans", "--json").json() == {"plans": []}

    ran = env("deploy-all", "--plan", str(plan), "--workers", "2", "--json")
    assert ran.code == 0 and {i["status"] for i in ran.json()["run"]["items"]} == {"deployed"}


def test_two_login_names_plan_approve_and_run(env: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "alice")
    assert env("policy", "set", "--approvals", "1").code == 0
    held_back = env("publish", str(write_bundle(tmp_path / "b2", "Gamma")))
    assert held_back.code == 0 and "nothing deployed: approvals are required" in held_back.out
    refused = env("deploy-all", "--json")
    assert refused.code == 3 and refused.json()["refusal"] == "approvals"
    plan = tmp_path / "plan.json"
    saved = env("deploy-all", "--plan-out", str(plan), "--json")
    assert saved.code == 0 and saved.json()["plan"]["approvals_needed"] == 1
    assert saved.json()["plan"]["changes"] == 3
    document = json.loads(plan.read_text())
    assert set(document) >= {"plan_id", "kind", "created_by", "created_at", "frontends", "options", "items"}
    assert set(document["options"]) == {"rolling", "soak", "max_failures"}
    assert set(document["items"][0]) >= {"module", "action", "release", "artifact_sha256", "config_sha256", "reason"}

    own = env("approve", str(plan), "--json")
    assert own.code == 3 and own.json()["refusal"] == "approvals"
    monkeypatch.setenv("DEPLOYCENTER_USER", "bob")  # display only: still alice
    assert env("approve", str(plan)).code == 3
    monkeypatch.setenv("LOGNAME", "bob")
    approved = env("approve", str(plan), "--comment", "diff reviewed", "--json")
    assert approved.code == 0 and approved.json()["approval"]["approvals"] == 1
    listed = env("plans", "--json").json()["plans"]
    assert listed[0]["current"] and listed[0]["approvals"][0]["comment"] == "diff reviewed"

    monkeypatch.setenv("LOGNAME", "alice")
    ran = env("deploy-all", "--plan", str(plan), "--json")
    assert ran.code == 0 and {i["module"] for i in ran.json()["run"]["items"]} == {"Alpha", "Beta", "Gamma"}
    audit = [(e["operation"], e["result"]) for e in env("audit", "--json").json()["audit"]]
    assert ("approve", "approved") in audit and ("approve", "refused") in audit


def test_a_stale_plan_names_its_changes_and_a_lock_or_active_run_says_so(env: Cli, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    assert env("deploy", "Alpha", "--plan-out", str(plan)).code == 0
    assert env("frontend", "disable", "fe2").code == 0
    stale = env("deploy", "--plan", str(plan), "--json")
    assert stale.code == 3
    assert stale.json()["refusal"] == "stale-plan" and "front-end fe2 disabled" in stale.json()["details"]
    assert env("frontend", "enable", "fe2").code == 0

    ctx = open_context(Location(env.data_dir, None))
    try:
        ids = operations.resolve_modules(ctx, ["Alpha"])
        with held(lambda sink: operations.deploy_modules(ctx, ids, on_event=sink)):
            assert env("deploy-all", "--json").json()["refusal"] == "active-run"
            assert env("publish", str(tmp_path / "b" / "Alpha"), "--json").json()["refusal"] == "lock"
    finally:
        ctx.close()


def test_an_emergency_rollback_runs_inside_a_freeze_and_needs_a_reason(env: Cli) -> None:
    deployed = env("deploy-all", "--json").json()["run"]["id"]
    assert env("freeze", "add", "2020-01-01T00:00", "2099-01-01T00:00", "--tz", "UTC", "--reason", "audit").code == 0
    refused = env("rollback", str(deployed), "--override-window", "--reason", "x", "--json")
    assert refused.code == 3 and refused.json()["refusal"] == "freeze" and "audit" in refused.json()["error"]
    one_error_line(env("rollback", str(deployed), "--emergency"), 2, "--emergency needs --reason")
    back = env("rollback", str(deployed), "--emergency", "--reason", "bad build", "--json")
    assert back.code == 0 and back.json()["run"]["status"] == "succeeded"
    status = env("status", "--json").json()["change_control"]
    assert status["active_freeze"] == "2099-01-01T00:00:00+00:00" and not status["changes_allowed"]


# -- windows at other times of the year, the command line under faketime ------------------------------

FAKETIME = shutil.which("faketime")
needs_faketime = pytest.mark.skipif(
    FAKETIME is None and not os.environ.get("CI"), reason="Debian's faketime is not installed"
)


def at(moment: str, cli: Cli, *args: str) -> Result:
    """The command run as a process whose clock reads ``moment`` (UTC) and goes on from there."""
    assert FAKETIME is not None, "faketime is needed (packaging/dev-setup installs it)"
    env = child_env()
    env["TZ"] = "UTC"
    done = subprocess.run(
        [FAKETIME, moment, *cli.command(*args)], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    return Result(done.returncode, done.stdout, done.stderr)


@needs_faketime
def test_a_window_across_lisbons_march_change_opens_when_the_clock_jumps(env: Cli) -> None:
    assert env("window", "add", "Sun 01:30", "--hours", "2", "--tz", "Europe/Lisbon").code == 0
    before = at("2026-03-29 00:59:00", env, "deploy-all", "--json")
    assert before.code == 3 and before.json()["refusal"] == "window"
    assert "Sun 2026-03-29 02:00 WEST (Europe/Lisbon), 2026-03-29 01:00 UTC" in before.json()["error"]
    status = at("2026-03-29 01:00:30", env, "status", "--json").json()["change_control"]
    assert status["in_window"] and status["changes_allowed"]
    assert status["next_window"] == "2026-04-05T01:30:00+01:00"
    inside = at("2026-03-29 01:00:30", env, "deploy-all", "--json")
    assert inside.code == 0, inside.err


@needs_faketime
def test_a_window_across_lisbons_october_change_lasts_its_elapsed_hours(env: Cli) -> None:
    assert env("window", "add", "Sun 01:30", "--hours", "2", "--tz", "Europe/Lisbon").code == 0
    late = at("2026-10-25 02:30:30", env, "deploy-all", "--json")  # 02:30 WET: two hours after 01:30 WEST
    assert late.code == 3 and late.json()["refusal"] == "window"
    assert at("2026-10-25 02:29:00", env, "apply-config", "Alpha", "X=1", "--json").json()["exit_code"] == 2
    inside = at("2026-10-25 00:31:00", env, "deploy-all", "--json")
    assert inside.code == 0, inside.err


@needs_faketime
def test_a_freeze_covering_a_whole_window_refuses_until_the_window_after(env: Cli) -> None:
    assert env("window", "add", "Sat 22:00", "--hours", "4", "--tz", "Europe/Lisbon").code == 0
    freeze = env("freeze", "add", "2026-12-19T00:00", "2026-12-21T00:00", "--tz", "Europe/Lisbon", "--json")
    assert freeze.json()["freeze"]["from"] == "2026-12-19T00:00:00+00:00"
    refused = at("2026-12-19 23:00:00", env, "deploy-all", "--json")
    assert refused.code == 3 and refused.json()["refusal"] == "freeze"
    assert "Sat 2026-12-26 22:00 WET (Europe/Lisbon), 2026-12-26 22:00 UTC" in refused.json()["error"]
    assert at("2026-12-19 23:00:00", env, "deploy-all", "--stage", "--json").code == 0  # staging is allowed
    assert at("2026-12-26 22:30:00", env, "deploy-all", "--json").code == 0
