"""Every unattended command works with ``--database-url postgresql+psycopg://...``.

The SQLite side of the same commands is tests/cli/test_commands.py; here the URL is given as the
option (not the environment variable) so that path is covered too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bundles import write_bundle
from tests.conftest import Cli, Result


class PgCli:
    def __init__(self, cli: Cli, url: str) -> None:
        self._cli = cli
        self.url = url

    def __call__(self, *args: str) -> Result:
        return self._cli(*args, "--database-url", self.url)


@pytest.fixture
def pg(cli: Cli, postgres_url: str) -> PgCli:
    return PgCli(cli, postgres_url)


def test_every_command_on_postgresql(pg: PgCli, cli: Cli, tmp_path: Path) -> None:
    bundles = tmp_path / "b"
    assert pg("status").code == 4, "no environment in an empty database"
    cli.data_dir.mkdir()
    assert pg("status").code == 4
    assert pg("init", "--frontend", str(tmp_path / "fe1"), "--frontend", str(tmp_path / "fe2")).code == 0
    assert not (cli.data_dir / "deploycenter.sqlite3").exists(), "the database is the server's"
    assert pg("init").code == 4

    paths = [
        write_bundle(bundles, "Customers", application="Sales", config={"Region": "eu"}),
        write_bundle(bundles, "Orders", application="Sales", depends=["Customers"]),
        write_bundle(bundles, "Gateway", uses=["soap.legacy"]),
        write_bundle(bundles, "Reports"),
    ]
    assert pg("publish", *map(str, paths)).code == 0
    assert pg("upgrade", "--to", "11.19.0").code == 1, "Gateway cannot compile for 11.19.0"
    plan = pg("deploy-all", "--dry-run", "--json").json()
    assert plan["run"] is None and len(plan["plan"]["items"]) == 4
    one = pg("deploy", "Reports", "--json").json()["run"]
    assert [(i["module"], i["status"]) for i in one["items"]] == [("Reports", "deployed")]
    app = pg("deploy", "--app", "Sales", "--json").json()["run"]
    assert {i["module"]: i["status"] for i in app["items"]} == {"Customers": "deployed", "Orders": "deployed"}
    done = pg("deploy-all", "--json")
    assert done.code == 0
    assert {(i["module"], i["status"], i["reason"]) for i in done.json()["run"]["items"]} == {
        ("Customers", "skipped", "already-deployed"),
        ("Orders", "skipped", "already-deployed"),
        ("Reports", "skipped", "already-deployed"),
        ("Gateway", "skipped", "compilation-failed"),
    }

    assert pg("apply-config", "Customers", "Region=us").code == 0
    assert '"Region": "us"' in (tmp_path / "fe2" / "Customers" / "config.json").read_text()
    assert pg("delete", "Reports").code == 0
    assert not (tmp_path / "fe1" / "Reports").exists()
    assert pg("cancel").code == 4, "no run is active"

    status = pg("status", "--json").json()
    assert status["platform_version"] == "11.19.0" and status["active_run"] is None
    assert [f["name"] for f in status["frontends"]] == ["fe1", "fe2"]
    modules = {m["name"]: m for m in pg("modules", "--json").json()["modules"]}
    assert set(modules) == {"Customers", "Orders", "Gateway"}
    assert modules["Orders"]["deployed_platform"] == "11.19.0"
    history = pg("runs", "--json").json()["runs"]
    assert [r["kind"] for r in history] == ["deploy-all", "deploy", "deploy", "upgrade", "publish"]
    assert all(r["finished_at"] and r["started_at"].endswith("+00:00") for r in history)
    assert pg("run", str(history[0]["id"]), "--json").json()["run"]["status"] == "succeeded"
    assert pg("verify").code == 0
    audit = pg("audit", "--json").json()["audit"]
    assert {"init", "publish", "upgrade", "deploy-all", "apply-config", "delete"} <= {e["operation"] for e in audit}


def test_a_value_postgresql_cannot_store_is_one_line_of_bad_input(pg: PgCli) -> None:
    result = pg("init", "--name", "N" * 300)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "does not fit the database" in lines[0] and "value too long" in lines[0]
