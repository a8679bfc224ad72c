"""The quick ``status`` read (standard library SQLite) says what the views say, or leaves it to them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import farm_admin as frontends
from app.engine import operations
from app.engine.context import Location
from app.engine.read import views
from app.engine.read.quick_status import read_status
from app.engine.store.sqlite_file import DATABASE_FILE
from tests.conftest import REPO, child_env
from tests.engine.envkit import Kit, held, make_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(tmp_path, frontends=2)
    yield k
    k.ctx.close()


def quick(kit: Kit) -> views.Status | None:
    return read_status(kit.ctx.location)


def test_a_new_environment_reads_the_same_both_ways(kit: Kit) -> None:
    assert quick(kit) == views.status(kit.ctx)


def test_every_state_staged_deleted_and_disabled_reads_the_same_both_ways(kit: Kit) -> None:
    kit.publish(
        kit.bundle("Legacy", uses=["soap.legacy"]),
        kit.bundle("Consumer", depends=["Legacy"]),
        kit.bundle("Ready1"),
        kit.bundle("Ready2"),
        kit.bundle("Done"),
        kit.bundle("Gone"),
    )
    operations.upgrade(kit.ctx, "11.19.0")
    operations.deploy_modules(kit.ctx, operations.resolve_modules(kit.ctx, ["Done"]))
    operations.stage_all(kit.ctx)
    kit.publish(kit.bundle("Fresh", platform="<11.19"))  # refuses 11.19.0: a failed compilation
    operations.delete_module(kit.ctx, "Gone")
    frontends.set_enabled(kit.ctx, "fe2", False)
    expected = views.status(kit.ctx)
    assert expected.staged and expected.ready and expected.deployed and expected.compilation_failed
    assert expected.upgrade_to == "11.19.0" and not expected.frontends[1].enabled
    read = quick(kit)
    assert read == expected
    assert read is not None and read.to_json() == expected.to_json()


def test_an_active_run_is_left_to_the_views(kit: Kit) -> None:
    kit.publish(kit.bundle("One"), kit.bundle("Two"))
    operations.upgrade(kit.ctx, "11.19.0")
    with held(lambda sink: operations.deploy_all(kit.ctx, on_event=sink, workers=1)):
        assert quick(kit) is None
        assert views.status(kit.ctx).active_run is not None
    assert quick(kit) == views.status(kit.ctx)


def test_a_schema_to_migrate_is_left_to_the_usual_path(kit: Kit) -> None:
    database = kit.ctx.data_dir / DATABASE_FILE
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    connection.close()
    assert quick(kit) is None


def test_other_databases_and_missing_environments_are_left_to_the_usual_path(kit: Kit, tmp_path: Path) -> None:
    assert read_status(Location(kit.ctx.data_dir, f"sqlite:///{kit.ctx.data_dir / DATABASE_FILE}")) is None
    assert read_status(Location(tmp_path / "nowhere")) is None
    (tmp_path / "empty").mkdir()
    assert read_status(Location(tmp_path / "empty")) is None
    odd = tmp_path / "odd%20name"
    odd.mkdir()
    (odd / DATABASE_FILE).write_bytes((kit.ctx.data_dir / DATABASE_FILE).read_bytes())
    assert read_status(Location(odd)) is None, "SQLAlchemy spells such a URL its own way"


def test_status_imports_no_sqlalchemy(kit: Kit) -> None:
    kit.publish(kit.bundle("One"))
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "app",
            "--unattended",
            "status",
            "--json",
            "--data-dir",
            str(kit.ctx.data_dir),
        ],
        cwd=REPO,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if "import time:" in line}
    assert "app.engine.read.quick_status" in modules
    assert not {m for m in modules if m.startswith(("sqlalchemy", "app.engine.store.models", "alembic"))}
