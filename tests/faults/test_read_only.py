"""Folders this process cannot write: the read-only views still work, everything else exits 4 with one line.

As root, permission bits do not stop writes, so the folder is made read-only with a read-only bind
mount (skipped where mounting is not allowed); other users get a folder without write permission.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.engine.store.database import DATABASE_FILE
from tests.bundles import write_bundle
from tests.cli.test_commands import one_error_line
from tests.conftest import Cli

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX folders and mounts")


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)
        return
    bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], check=False, capture_output=True, text=True)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount here ({bind.stderr.strip()})")
    try:
        ro = subprocess.run(
            ["mount", "-o", "remount,ro,bind", str(folder)], check=False, capture_output=True, text=True
        )
        if ro.returncode != 0:
            pytest.skip(f"cannot make a bind mount read-only here ({ro.stderr.strip()})")
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    bundles = [write_bundle(tmp_path / "b", name) for name in ("Customers", "Orders")]
    assert cli("publish", *map(str, bundles)).code == 0
    return cli


def test_init_under_a_read_only_parent_gives_exit_4_and_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    with read_only(parent):
        for target in (parent / "env", parent / "a" / "b"):
            one_error_line(Cli(target, capsys)("init"), 4, str(target), "choose a folder")
        assert list(parent.iterdir()) == []


def test_init_in_a_read_only_empty_data_dir_gives_exit_4(cli: Cli) -> None:
    cli.data_dir.mkdir()
    with read_only(cli.data_dir):
        one_error_line(cli("init"), 4, str(cli.data_dir), "read-only")


def test_the_views_work_on_a_read_only_data_dir(env: Cli) -> None:
    expected = {name: env(name, "--json").json() for name in ("status", "modules", "runs")}
    with read_only(env.data_dir):
        for name, document in expected.items():
            result = env(name, "--json")
            assert result.code == 0, result
            assert result.json() == document
        verified = env("verify", "--json")
        assert verified.code == 0 and verified.json()["ok"] is True, verified
        assert env("deploy-all", "--dry-run").code == 0
        assert env("run", "1").code == 0


def test_changes_on_a_read_only_data_dir_give_exit_4_and_one_line(env: Cli, tmp_path: Path) -> None:
    database = env.data_dir / DATABASE_FILE
    with read_only(env.data_dir):
        one_error_line(env("apply-config", "Orders", "X=1"), 2, "no configuration key")  # checked first
        for command in (("deploy-all",), ("delete", "Orders"), ("upgrade", "--to", "11.19.0")):
            one_error_line(env(*command), 4, str(database), "writable")
    assert env("modules", "--json").json()["modules"][0]["state"], "nothing changed meanwhile"


def test_a_schema_to_migrate_in_a_read_only_data_dir_gives_exit_4(env: Cli) -> None:
    database = env.data_dir / DATABASE_FILE
    connection = sqlite3.connect(database)
    try:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
        connection.commit()
    finally:
        connection.close()
    with read_only(env.data_dir):
        one_error_line(env("status"), 4, str(database), "schema", "read-only")
    assert env("status").code == 0, "migrated once the folder is writable again"


def test_init_with_a_front_end_under_a_read_only_parent_gives_exit_4(cli: Cli, tmp_path: Path) -> None:
    parent = tmp_path / "servers"
    parent.mkdir()
    with read_only(parent):
        one_error_line(cli("init", "--frontend", str(parent / "fe")), 4, str(parent / "fe"))
    assert cli("init", "--frontend", str(parent / "fe")).code == 0, "nothing was left half-made"


def test_a_write_ahead_log_left_by_a_crash_is_read_or_named(env: Cli) -> None:
    database = env.data_dir / DATABASE_FILE
    crash = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "c.execute('PRAGMA wal_autocheckpoint = 0')\n"
        "c.execute(\"UPDATE environment SET name = 'After the crash'\")\n"
        "c.commit()\n"
        "os._exit(0)\n"  # like a crash: the -wal and -shm files stay, the log not copied back
    )
    subprocess.run([sys.executable, "-c", crash, str(database)], check=True)
    wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
    assert wal.stat().st_size > 0 and shm.exists()
    with read_only(env.data_dir):
        status = env("status", "--json")
        assert status.code == 0 and status.json()["environment"] == "After the crash", status
    shm.unlink()
    with read_only(env.data_dir):
        one_error_line(env("status"), 4, str(database), wal.name, "read-only")
    assert env("status", "--json").json()["environment"] == "After the crash"
