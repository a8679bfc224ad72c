"""Writers take turns across processes, wait a bounded time, then fail with one line: SQLite and PostgreSQL.

On SQLite the turn is the database file's write lock (``BEGIN IMMEDIATE``); on PostgreSQL it is one
advisory lock every writer transaction takes first. Readers never wait for a writer on either.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.engine.store.database import Database, default_url
from tests.conftest import Cli, Result


def one_line(result: Result, code: int, fragment: str) -> None:
    assert result.code == code, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.err


@pytest.fixture
def env(cli: Cli, tmp_path: Path, backend_env: str | None) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    return cli


def test_a_writer_in_another_process_makes_commands_wait_then_fail_with_one_line(
    env: Cli, backend_env: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYCENTER_BUSY_TIMEOUT", "0.5")
    other = Database(backend_env or default_url(env.data_dir))
    try:
        with other.write() as session:
            session.connection()  # the transaction, and so the writer turn, starts here
            began = time.monotonic()
            refused = env.process("delete", "Anything", timeout=60)
            waited = time.monotonic() - began
            assert env.process("status").code == 0, "readers do not wait for a writer"
    finally:
        other.dispose()
    one_line(refused, 3, "is locked by another process (waited 0.5 s)")
    assert waited >= 0.5
    one_line(env("delete", "Anything"), 2, "unknown module")


def test_a_foreign_client_holding_the_environment_row_does_not_hang_postgresql_commands(
    cli: Cli, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv("DEPLOYCENTER_DATABASE_URL", postgres_url)
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    monkeypatch.setenv("DEPLOYCENTER_BUSY_TIMEOUT", "0.5")
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as foreign:
        foreign.execute("SELECT * FROM environment FOR UPDATE")
        refused = cli.process("apply-config", "Anything", "A=1", timeout=60)
        foreign.rollback()
    one_line(refused, 3, "locked by another process")


def test_processes_racing_to_create_one_environment_leave_exactly_one(
    cli: Cli, tmp_path: Path, backend_env: str | None
) -> None:
    """The first open of an empty database migrates it; concurrent ones must wait, not collide."""
    racers = [cli.spawn("init", "--frontend", str(tmp_path / f"fe{i}")) for i in range(4)]
    results = []
    for proc in racers:
        out, err = proc.communicate(timeout=120)
        results.append(Result(proc.returncode, out, err))
    assert sorted(r.code for r in results) == [0, 4, 4, 4], results
    for result in results:
        if result.code == 4:
            one_line(result, 4, "an environment already exists")
    status = cli("status", "--json").json()
    assert len(status["frontends"]) == 1


def test_a_second_deploy_all_from_another_process_is_refused_not_queued(
    cli: Cli, tmp_path: Path, backend_env: str | None
) -> None:
    from tests.bundles import write_bundle

    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    bundles = [write_bundle(tmp_path / "b", f"Mod{i:02d}", files={"data.txt": f"{i}" * 20_000}) for i in range(24)]
    assert cli("publish", "--workers", "2", *map(str, bundles)).code == 0
    assert cli("upgrade", "--to", "11.19.0").code == 0
    first, second = (cli.spawn("deploy-all", "--workers", "1", "--json") for _ in range(2))
    outcomes = sorted(proc.wait(timeout=120) for proc in (first, second))
    for proc in (first, second):
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()
    # Either the two overlapped (one refused, exit 3) or one ran after the other (nothing left).
    assert outcomes in ([0, 3], [0, 0]), outcomes
    history = cli("runs", "--json").json()["runs"]
    deploy_runs = [r for r in history if r["kind"] == "deploy-all"]
    assert sum(r["counts"].get("deployed", 0) for r in deploy_runs) == 24, "each module deployed exactly once"
    assert cli("verify").code == 0


def test_an_unreachable_server_fails_with_one_line_and_hides_the_password(cli: Cli) -> None:
    import socket

    pytest.importorskip("psycopg", reason="the psycopg driver is not installed (pip install -e '.[postgres]')")

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cli.data_dir.mkdir()
    url = f"postgresql+psycopg://nobody:secret@127.0.0.1:{port}/nothing"
    result = cli.process("status", "--database-url", url, timeout=60)
    one_line(result, 4, "nobody:***@127.0.0.1")
    assert "secret" not in result.err and "Traceback" not in result.err
