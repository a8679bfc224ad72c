"""The unattended command line: exit codes, JSON keys and one-line errors, as the contract fixes them."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import pytest

from tests.bundles import write_bundle
from tests.conftest import Cli, Result


def one_error_line(result: Result, code: int, *fragments: str) -> None:
    assert result.code == code, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deploycenter: error: "), result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    return cli


def test_commands_need_an_environment_and_init_only_once(cli: Cli) -> None:
    one_error_line(cli("status"), 4, "run 'init' first")
    assert cli("init").code == 0
    one_error_line(cli("init"), 4, "already exists")
    status = cli("status", "--json").json()
    assert status["platform_version"] == "11.18.1"
    assert status["frontends"] == [
        {"name": "default", "path": str(cli.data_dir / "frontends" / "default"), "kind": "local", "enabled": True}
    ]
    assert status["active_run"] is None


def test_global_options_before_or_after_the_command(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    from app.__main__ import main

    assert main(["--unattended", "--data-dir", str(cli.data_dir), "init", "--platform", "11.19.0"]) == 0
    capsys.readouterr()
    assert main(["--unattended", "--json", "--data-dir", str(cli.data_dir), "status"]) == 0
    assert '"platform_version": "11.19.0"' in capsys.readouterr().out


def test_json_error_document_and_usage_errors(env: Cli) -> None:
    result = env("deploy", "Nope", "--json")
    one_error_line(result, 2, "unknown module 'Nope'")
    assert result.json() == {"error": "unknown module 'Nope'", "exit_code": 2}
    one_error_line(env("frobnicate"), 2, "invalid choice")
    one_error_line(env("deploy-all", "--workers", "0"), 2, "at least 1")
    one_error_line(env("run", "99"), 2, "no run 99")
    one_error_line(env("apply-config", "X", "novalue"), 2, "KEY=VALUE")
    one_error_line(env("cancel"), 4, "no run is active")


def test_publish_upgrade_and_deploy_all_json(env: Cli, tmp_path: Path) -> None:
    bundles = tmp_path / "b"
    ok = write_bundle(bundles, "Customers", application="Sales")
    legacy = write_bundle(bundles, "Gateway", uses=["soap.legacy"])
    assert env("publish", str(ok), str(legacy)).code == 0
    upgraded = env("upgrade", "--to", "11.19.0", "--json")
    assert upgraded.code == 1, "a compilation failed"
    assert {i["module"]: i["status"] for i in upgraded.json()["run"]["items"]} == {
        "Customers": "prepared",
        "Gateway": "failed",
    }

    plan = env("deploy-all", "--dry-run", "--json").json()
    assert plan["run"] is None
    assert plan["plan"]["items"] == [
        {
            "module": "Gateway",
            "application": "Gateway",
            "version": 1,
            "status": "skipped",
            "reason": "compilation-failed",
        },
        {"module": "Customers", "application": "Sales", "version": 1, "status": "pending", "reason": None},
    ]
    done = env("deploy-all", "--json")
    assert done.code == 0
    run = done.json()["run"]
    assert run["status"] == "succeeded" and isinstance(run["id"], int)
    assert {(i["module"], i["status"], i["reason"]) for i in run["items"]} == {
        ("Customers", "deployed", None),
        ("Gateway", "skipped", "compilation-failed"),
    }
    modules = {m["name"]: m for m in env("modules", "--json").json()["modules"]}
    assert modules["Customers"] | {} == modules["Customers"]
    assert {
        k: modules["Customers"][k]
        for k in ("application", "latest_version", "compile_status", "deployed_version", "deployed_platform", "state")
    } == {
        "application": "Sales",
        "latest_version": 1,
        "compile_status": "succeeded",
        "deployed_version": 1,
        "deployed_platform": "11.19.0",
        "state": "deployed",
    }
    assert modules["Gateway"]["state"] == "compilation-failed"
    assert modules["Gateway"]["deployed_platform"] == "11.18.1", "its old build stays live"
    history = env("runs", "--json").json()["runs"]
    assert [r["kind"] for r in history] == ["deploy-all", "upgrade", "publish"]
    assert set(history[0]) >= {"id", "kind", "status", "started_at", "finished_at", "counts"}
    assert history[0]["counts"]["deployed"] == 1 and history[0]["counts"]["skipped"] == 1
    assert env("run", str(run["id"]), "--json").json()["run"]["id"] == run["id"]


def test_configuration_tool_aliases(env: Cli, tmp_path: Path) -> None:
    env("publish", str(write_bundle(tmp_path / "b", "Solo")))
    assert env("/UpgradeEnvironment", "11.19.0").code == 0
    assert env("/UpgradePublishedApplications").code == 0
    assert env("/DeployPreparedApplications", "--json").json()["run"]["items"][0]["status"] == "deployed"


def test_bad_input_is_one_line_and_stores_nothing(env: Cli, tmp_path: Path) -> None:
    bundles = tmp_path / "bad"
    broken = bundles / "Broken"
    broken.mkdir(parents=True)
    (broken / "module.toml").write_text('name = "Broken\n')
    one_error_line(env("publish", str(broken)), 2, "module.toml")

    slip = bundles / "slip.zip"
    with zipfile.ZipFile(slip, "w") as archive:
        archive.writestr("module.toml", 'name = "Slip"\n')
        archive.writestr("../../evil.py", "print('x')\n")
    one_error_line(env("publish", str(slip)), 2)

    one_error_line(env("upgrade", "--to", "12.0.0"), 2, "unknown platform version '12.0.0'")
    assert env("upgrade", "--to", "11.19.0").code == 0
    one_error_line(env("upgrade", "--to", "11.18.1"), 2, "downgrade")
    one_error_line(env("publish", str(tmp_path / "missing")), 2)
    assert env("modules", "--json").json()["modules"] == []
    assert [r["kind"] for r in env("runs", "--json").json()["runs"]] == ["upgrade"]


def test_missing_data_dir_is_not_created_by_a_typo(cli: Cli, tmp_path: Path) -> None:
    from app.__main__ import main

    missing = tmp_path / "nowhere"
    assert main(["--unattended", "status", "--data-dir", str(missing)]) == 4
    assert not missing.exists()


def test_a_locked_database_makes_commands_fail_with_one_line(env: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYCENTER_BUSY_TIMEOUT", "0.5")
    blocker = sqlite3.connect(env.data_dir / "deploycenter.sqlite3", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        one_error_line(env.process("delete", "Anything"), 3, "locked by another process")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    one_error_line(env("delete", "Anything"), 2, "unknown module")


def test_apply_config_and_delete_write_and_clean_the_front_ends(env: Cli, tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "b", "Mailer", config={"SmtpHost": "localhost", "SmtpPassword": "x"})
    env("publish", str(bundle))
    frontend = tmp_path / "fe" / "Mailer"
    one_error_line(env("apply-config", "Mailer", "Nope=1"), 2, "no configuration key Nope")
    assert env("apply-config", "mailer", "SmtpHost=mail.example").code == 0
    assert '"SmtpHost": "mail.example"' in (frontend / "config.json").read_text()
    (frontend / "notes.txt").write_text("kept: not created by the deployer")
    assert env("delete", "Mailer").code == 0
    assert sorted(p.name for p in frontend.iterdir()) == ["notes.txt"]
    assert env("modules", "--json").json()["modules"] == []
    assert env("runs", "--json").json()["runs"][0]["kind"] == "publish", "history stays"
    refused = env("publish", str(bundle))
    assert refused.code == 1 and "notes.txt was not created by Deploy Center" in refused.out
    assert (frontend / "notes.txt").read_text().startswith("kept")
    (frontend / "notes.txt").unlink()
    assert env("publish", str(bundle)).code == 0, "the name can be used again"


def test_verify_reports_drift_with_exit_1(env: Cli, tmp_path: Path) -> None:
    env("publish", str(write_bundle(tmp_path / "b", "Site")))
    assert env("verify").code == 0
    release = next((tmp_path / "fe" / "Site" / "releases").iterdir())
    (release / "static" / "index.html").write_text("tampered")
    result = env("verify", "--json")
    assert result.code == 1
    assert result.json()["drift"][0]["module"] == "Site"


def test_audit_log_records_operations_and_refusals(env: Cli, tmp_path: Path) -> None:
    env("publish", str(write_bundle(tmp_path / "b", "Audited")))
    env("apply-config", "Audited", "Missing=1")
    entries = env("audit", "--json").json()["audit"]
    assert [(e["operation"], e["result"]) for e in entries[:4]] == [
        ("apply-config", "failed"),
        ("publish", "succeeded"),
        ("publish", "started"),
        ("init", "done"),
    ]
    assert entries[0]["who"] and "Missing" in entries[0]["detail"]


def test_a_reader_that_goes_away_is_not_an_error(env: Cli, tmp_path: Path) -> None:
    import subprocess

    from tests.conftest import REPO, child_env

    env("publish", str(write_bundle(tmp_path / "b", "Piped")))
    proc = subprocess.Popen(
        env.command("modules"), cwd=REPO, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `deploycenter ... modules | head -0`
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(60) == 0, err
    assert err == ""
