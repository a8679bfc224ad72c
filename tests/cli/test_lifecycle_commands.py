"""The lifecycle commands (rules.md#rollback): rollback, deploy-all --stage/--rolling, publish-solution, prune."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bundles import write_bundle
from tests.cli.test_commands import one_error_line
from tests.conftest import Cli


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    """Two front-ends; Alpha and Beta (consumes Alpha) live on 11.18.1, prepared for 11.19.0."""
    assert cli("init", "--frontend", str(tmp_path / "fe1"), "--frontend", str(tmp_path / "fe2")).code == 0
    bundles = tmp_path / "bundles"
    alpha = write_bundle(bundles, "Alpha", application="Core")
    beta = write_bundle(bundles, "Beta", application="Core", depends=["Alpha"])
    assert cli("publish", str(alpha), str(beta)).code == 0
    assert cli("upgrade", "--to", "11.19.0").code == 0
    return cli


def run_count(cli: Cli) -> int:
    return len(cli("runs", "--json").json()["runs"])


def test_bad_input_exits_2_with_one_line_and_changes_nothing(env: Cli, tmp_path: Path) -> None:
    runs = run_count(env)
    one_error_line(env("rollback", "999"), 2, "there is no run 999")
    one_error_line(env("rollback", "2"), 2, "run 2 (upgrade) deployed nothing")
    one_error_line(env("deploy-all", "--stage", "--dry-run"), 2, "--stage", "--dry-run")
    one_error_line(env("rollback"), 2, "name a run, modules, or an application")
    one_error_line(env("rollback", "1", "Alpha"), 2, "one run id")
    one_error_line(env("prune", "--keep", "-1"), 2, "0 or more")
    assert env("frontend", "disable", "fe2").code == 0
    for command in (
        ("deploy-all", "--rolling"),
        ("deploy", "Alpha", "--rolling"),
        ("rollback", "1", "--rolling"),
        ("publish-solution", "--rolling"),
    ):
        one_error_line(env(*command), 2, "--rolling needs at least two enabled front-ends")
    assert run_count(env) == runs
    assert env("status", "--json").json()["counts"]["ready"] == 2


def test_stage_then_switch_then_roll_back(env: Cli) -> None:
    staged = env("deploy-all", "--stage", "--json")
    assert staged.code == 0, staged.err
    assert staged.json()["run"]["status"] == "succeeded"
    assert {i["status"] for i in staged.json()["run"]["items"]} == {"staged"}
    status = env("status", "--json").json()
    assert (status["counts"]["staged"], status["counts"]["ready"]) == (2, 2)
    assert "2 staged" in env("status").out

    deployed = env("deploy-all", "--json")
    assert deployed.code == 0
    run_id = deployed.json()["run"]["id"]
    assert env("status", "--json").json()["counts"]["staged"] == 0

    back = env("rollback", str(run_id), "--json")
    assert back.code == 0, back.err
    run = back.json()["run"]
    assert run["kind"] == "rollback"
    assert [(i["module"], i["status"]) for i in run["items"]] == [("Alpha", "deployed"), ("Beta", "deployed")]
    modules = {m["name"]: m for m in env("modules", "--json").json()["modules"]}
    assert {(m["state"], m["deployed_platform"]) for m in modules.values()} == {("ready", "11.18.1")}
    assert env("deploy-all", "--dry-run", "--json").json()["plan"]["to_deploy"] == 2
    assert env("verify").code == 0

    again = env("rollback", str(run_id), "--json").json()["run"]
    assert {(i["status"], i["reason"]) for i in again["items"]} == {("skipped", "changed-since")}


def test_rollback_of_modules_and_publish_solution_of_an_application(env: Cli) -> None:
    assert env("deploy-all").code == 0
    back = env("rollback", "--app", "Core", "--json")
    assert back.code == 0
    assert {i["status"] for i in back.json()["run"]["items"]} == {"deployed"}
    solved = env("publish-solution", "--app", "Core", "--json")
    assert solved.code == 0, solved.err
    assert solved.json()["run"]["kind"] == "publish-solution"
    assert [i["module"] for i in solved.json()["run"]["items"]] == ["Alpha", "Beta"]
    assert env("status", "--json").json()["fully_upgraded"] is True


def test_rolling_deploy_all_names_the_failed_health_check(env: Cli, tmp_path: Path) -> None:
    added = env("frontend", "add", "fe3", str(tmp_path / "fe3"), "--health-cmd", "exit 7", "--health-timeout", "0.5")
    assert added.code == 0
    result = env("deploy-all", "--rolling", "--json")
    assert result.code == 1
    items = result.json()["run"]["items"]
    (reason,) = {i["reason"] for i in items}
    assert reason.startswith("health check of front-end fe3 failed (exit 7) (tried ") and reason.endswith(" in 0.5 s)")
    assert {tuple(sorted(i["frontends"].items())) for i in items} == {
        (("fe1", "switched back"), ("fe2", "switched back"), ("fe3", "switched back"))
    }
    for frontend in ("fe1", "fe2"):
        assert "11.18.1" in (tmp_path / frontend / "Alpha" / "CURRENT").read_text()
    assert not (tmp_path / "fe3" / "Alpha" / "CURRENT").exists()  # new there: nothing was live before


def test_prune_reports_releases_and_bytes(env: Cli, tmp_path: Path) -> None:
    for text in ("a", "b", "c", "d", "e"):
        bundle = write_bundle(tmp_path / f"bundles-{text}", "Alpha", application="Core", files={"n.txt": text})
        assert env("publish", str(bundle)).code == 0
    dry = env("prune", "--keep", "1", "--dry-run", "--json")
    assert dry.code == 0
    report = dry.json()
    assert (report["keep"], report["dry_run"], report["count"]) == (1, True, 4)
    assert report["bytes"] == sum(r["bytes"] for r in report["releases"]) > 0
    assert set(report["releases"][0]) == {"frontend", "module", "release", "bytes"}
    assert "would remove 4 release(s)" in env("prune", "--keep", "1", "--dry-run").out
    done = env("prune", "--keep", "1", "--json").json()
    assert (done["dry_run"], done["count"]) == (False, 4)
    assert env("prune", "--dry-run", "--json").json()["count"] == 0
    assert env("verify").code == 0
