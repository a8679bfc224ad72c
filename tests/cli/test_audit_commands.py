"""``audit``, ``audit verify`` and ``audit export`` from the command line: output, exit codes, bad input."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from contextlib import closing

import pytest

from app.engine.store.database import DATABASE_FILE
from tests.conftest import Cli


@pytest.fixture
def env(cli: Cli) -> Cli:
    fe, spare = str(cli.data_dir.parent / "fe"), str(cli.data_dir.parent / "spare")
    assert cli("init", "--frontend", fe, "--frontend", spare).code == 0
    assert cli("frontend", "disable", "fe").code == 0
    assert cli("frontend", "enable", "fe").code == 0
    assert cli("frontend", "disable", "missing").code == 2  # a refusal is audited too
    return cli


def test_audit_alone_still_lists_the_newest_entries_first(env: Cli) -> None:
    entries = env("audit", "--json").json()["audit"]
    assert [e["operation"] for e in entries] == ["frontend-disable", "frontend-enable", "frontend-disable", "init"]
    assert [e["id"] for e in entries] == [4, 3, 2, 1]
    assert env("audit", "--limit", "1", "--json").json()["audit"][0]["result"] == "failed"


def test_verify_prints_the_head_and_checks_a_head_given_back(env: Cli) -> None:
    result = env("audit", "verify")
    assert result.code == 0, result
    head_line = result.out.strip().splitlines()[-1]
    assert head_line.startswith("head: 4:")
    head = head_line.removeprefix("head: ")
    document = env("audit", "verify", "--head", head, "--json").json()
    assert document == {"ok": True, "entries": 4, "head": head, "broken_at": None, "problem": None}


def test_verify_exits_1_naming_the_entry_changed_in_the_file(env: Cli) -> None:
    with closing(sqlite3.connect(env.data_dir / DATABASE_FILE)) as connection:
        connection.execute("UPDATE audit_log SET who = 'someone@else' WHERE id = 2")
        connection.commit()
    result = env("audit", "verify")
    assert result.code == 1
    assert "entry 2 was changed" in result.out
    assert env("audit", "verify", "--json").json()["broken_at"] == 2


def test_verify_with_a_head_finds_the_entries_cut_off(env: Cli) -> None:
    head = env("audit", "verify", "--json").json()["head"]
    with closing(sqlite3.connect(env.data_dir / DATABASE_FILE)) as connection:
        connection.execute("DELETE FROM audit_log WHERE id = 4")
        connection.commit()
    assert env("audit", "verify").code == 0
    result = env("audit", "verify", "--head", head)
    assert result.code == 1 and "entry 4 of the head kept elsewhere is missing" in result.out


def test_export_streams_every_entry_oldest_first_as_json_lines_whatever_json_says(env: Cli) -> None:
    result = env("audit", "export", "--json")
    assert result.code == 0
    entries = [json.loads(line) for line in result.out.splitlines()]
    assert [e["id"] for e in entries] == [1, 2, 3, 4]
    assert entries[1]["prev_sha256"] == entries[0]["sha256"]
    assert entries[0]["at"].endswith("+00:00")


def test_export_as_csv_has_a_header_and_one_row_per_entry(env: Cli) -> None:
    result = env("audit", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [row["operation"] for row in rows] == ["init", "frontend-disable", "frontend-enable", "frontend-disable"]
    assert rows[3]["detail"].startswith("unknown front-end 'missing'")


def test_export_since_a_date_leaves_out_older_entries(env: Cli) -> None:
    entries = [json.loads(line) for line in env("audit", "export").out.splitlines()]
    with closing(sqlite3.connect(env.data_dir / DATABASE_FILE)) as connection:
        connection.execute("UPDATE audit_log SET at = '2020-01-01 00:00:00.000000' WHERE id <= 2")
        connection.commit()
    later = [json.loads(line) for line in env("audit", "export", "--since", "2021-06-30").out.splitlines()]
    assert [e["id"] for e in later] == [3, 4]
    offset = [
        json.loads(line) for line in env("audit", "export", "--since", "2019-12-31T23:00:00-02:00").out.splitlines()
    ]
    assert [e["id"] for e in offset] == [3, 4], "23:00 at -02:00 is after midnight UTC"
    assert len(entries) == 4


def test_export_masks_secret_values(env: Cli) -> None:
    from app.engine.audit import audit
    from app.engine.context import Location, open_context

    ctx = open_context(Location(env.data_dir))
    try:
        with ctx.db.write() as session:
            audit(session, "apply-config", "Orders", "done", "db_password=hunter2, MaxRows=100")
    finally:
        ctx.close()
    out = env("audit", "export").out + env("audit", "export", "--format", "csv").out + env("audit", "--json").out
    assert "hunter2" not in out
    assert "db_password=***, MaxRows=100" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("audit", "export", "--since", "last tuesday"), "--since takes an ISO 8601 date"),
        (("audit", "export", "--format", "xml"), "invalid choice"),
        (("audit", "verify", "--head", "4"), "a head is ID:SHA256"),
    ],
)
def test_bad_input_is_exit_2_in_one_line(env: Cli, args: tuple[str, ...], message: str) -> None:
    result = env(*args, "--json")
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and message in result.err
    assert message in json.loads(result.out)["error"]
