"""The database stays locked by another process in the middle of a run: the run gives up with one line
after the busy timeout instead of hanging, and the environment recovers once the lock is gone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.engine.store.database import Database, default_url
from tests.bundles import write_bundle
from tests.conftest import Cli
from tests.faults.scenery import frontend_problems, history_problems, opened

pytestmark = pytest.mark.slow


def test_a_run_that_finds_the_database_locked_fails_with_one_line_and_recovers(
    cli: Cli, tmp_path: Path, backend_env: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    frontend = tmp_path / "fe"
    assert cli("init", "--frontend", str(frontend)).code == 0
    bundles = [write_bundle(tmp_path / "b", f"Mod{i:02d}", files={"data.txt": f"{i}" * 20_000}) for i in range(24)]
    assert cli("publish", "--workers", "2", *map(str, bundles)).code == 0
    assert cli("upgrade", "--to", "11.19.0").code == 0

    monkeypatch.setenv("DEPLOYCENTER_BUSY_TIMEOUT", "1")
    run = cli.spawn("deploy-all", "--workers", "1")
    assert run.stderr is not None
    first = run.stderr.readline()
    while first and not first.startswith("[1/"):
        first = run.stderr.readline()
    assert first.startswith("[1/"), "the run never reported a module"
    other = Database(backend_env or default_url(cli.data_dir))
    try:
        with other.write() as session:
            session.connection()  # another writer holds the database from here on
            began = time.monotonic()
            _out, err = run.communicate(timeout=60)
            held_for = time.monotonic() - began
    finally:
        other.dispose()
    errors = [line for line in err.splitlines() if line.startswith("deploycenter: error:")]
    assert run.returncode == 3, err
    assert len(errors) == 1 and "locked by another process" in errors[0], err
    assert "Traceback" not in err
    assert held_for < 30, "the run gave up within a bounded time"

    monkeypatch.delenv("DEPLOYCENTER_BUSY_TIMEOUT")
    status = cli("status", "--json").json()
    assert status["active_run"] is None
    runs = cli("runs", "--json").json()["runs"]
    assert runs[0]["kind"] == "deploy-all" and runs[0]["status"] == "interrupted"
    with opened(cli) as ctx:
        assert frontend_problems([frontend]) == [] and history_problems(ctx, [frontend]) == []
    done = cli.process("deploy-all", "--json")
    assert done.code == 0, done.err
    assert cli("verify").code == 0
    assert cli("status", "--json").json()["fully_upgraded"] is True
