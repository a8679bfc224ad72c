"""A damaged SQLite file: every command exits 4 with one line naming the file and what to do.

Damage of three kinds: the file cut short, garbage written over the pages a command reads, and
a file that is not a database at all. ``verify`` also finds damage in pages no view reads.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from app.engine.store.database import DATABASE_FILE
from tests.bundles import write_bundle
from tests.cli.test_commands import one_error_line
from tests.conftest import Cli, Result

COMMANDS = (("status",), ("modules",), ("runs",), ("verify",), ("deploy-all", "--dry-run"), ("audit",))


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    bundles = [write_bundle(tmp_path / "b", f"Mod{i:02d}", config={"Password": "hunter2"}) for i in range(40)]
    assert cli("publish", *map(str, bundles)).code == 0
    checkpoint(database_of(cli))
    return cli


def database_of(cli: Cli) -> Path:
    return cli.data_dir / DATABASE_FILE


def checkpoint(database: Path) -> None:
    """Copy the write-ahead log into the file, so that damage to the file is what readers meet."""
    connection = sqlite3.connect(database)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    for leftover in (Path(f"{database}-wal"), Path(f"{database}-shm")):
        leftover.unlink(missing_ok=True)


def root_page(database: Path, table: str) -> tuple[int, int]:
    """The first page of ``table`` and the page size."""
    connection = sqlite3.connect(database)
    try:
        page = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        size = connection.execute("PRAGMA page_size").fetchone()[0]
    finally:
        connection.close()
    return int(page), int(size)


def scribble(database: Path, page: int, page_size: int) -> None:
    """Garbage over one page, header and cells alike, as a bad disk block or a stray write leaves."""
    with database.open("r+b") as handle:
        handle.seek((page - 1) * page_size)
        handle.write(bytes((index * 37 + 11) % 256 for index in range(page_size)))


def assert_damage_reported(result: Result, database: Path) -> None:
    one_error_line(result, 4, str(database), "damaged", "restore it from a backup")
    assert "SELECT" not in result.err and "sqlalche.me" not in result.err
    assert "hunter2" not in result.err + result.out


def test_a_truncated_database_gives_exit_4_and_one_line(env: Cli) -> None:
    database = database_of(env)
    size = database.stat().st_size
    os.truncate(database, size // 2)
    for command in (*COMMANDS, ("publish", str(env.data_dir))):
        assert_damage_reported(env(*command), database)


def test_a_database_cut_inside_its_header_gives_exit_4(env: Cli) -> None:
    database = database_of(env)
    os.truncate(database, 60)
    assert_damage_reported(env("status"), database)


def test_a_file_that_is_not_a_database_gives_exit_4(env: Cli) -> None:
    database = database_of(env)
    database.write_bytes(b"this is not what Deploy Center wrote\n" * 200)
    for command in COMMANDS:
        assert_damage_reported(env(*command), database)
    assert_damage_reported(env("init"), database)


@pytest.mark.parametrize(
    ("table", "readers"),
    [
        ("environment", (("status",), ("modules",), ("modules", "--json"), ("verify",), ("runs",))),
        ("module", (("status",), ("modules",), ("modules", "--json"), ("verify",))),
        ("module_version", (("modules",), ("modules", "--json"), ("verify",))),
    ],
)
def test_garbage_over_a_page_a_view_reads_is_noticed(env: Cli, table: str, readers: tuple[tuple[str, ...]]) -> None:
    database = database_of(env)
    page, page_size = root_page(database, table)
    assert page > 1, "a page in the middle of the file, not its header"
    scribble(database, page, page_size)
    for command in readers:
        result = env(*command)
        assert_damage_reported(result, database)
        if "--json" in command:
            assert result.json()["exit_code"] == 4


def test_verify_finds_garbage_in_pages_no_view_reads(env: Cli) -> None:
    database = database_of(env)
    page, page_size = root_page(database, "audit_log")
    scribble(database, page, page_size)
    assert env("modules").code == 0, "the modules view never reads the audit log"
    assert_damage_reported(env("verify"), database)


def test_a_sound_database_passes_the_integrity_check(env: Cli) -> None:
    from app.engine.context import Location, open_context

    ctx = open_context(Location(env.data_dir))
    try:
        assert ctx.db.check_integrity() == []
    finally:
        ctx.close()
    assert env("verify").code == 0
