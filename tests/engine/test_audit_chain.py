"""The audit log proves itself: tampering with the real SQLite file or PostgreSQL rows is found and
named, a cut-off tail is found from a head kept elsewhere, two processes appending at once never
fork the chain, and a log written before the chain existed is chained by its migration.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from app.engine.audit import audit, chain_head
from app.engine.audit_chain import GENESIS, ChainRow, Head, at_text, canonical_entry, entry_hash, verify_chain
from app.engine.context import EnvironmentContext, Location
from app.engine.read.audit_log import verify_log
from app.engine.store.database import DATABASE_FILE, Database, default_url
from app.engine.store.migrate import _config, upgrade_schema
from app.engine.store.models import AuditRow
from tests.conftest import REPO, child_env
from tests.engine.envkit import make_kit


@pytest.fixture
def env(tmp_path: Path, database_url: str | None) -> Iterator[EnvironmentContext]:
    """An environment whose log holds six entries: init, then five front-end changes."""
    kit = make_kit(tmp_path, database_url=database_url)
    for number in range(5):
        with kit.ctx.db.write() as session:
            audit(session, "frontend-disable", f"fe{number}", "done", f"change {number}")
    yield kit.ctx
    kit.ctx.close()


def tamper(ctx: EnvironmentContext, *statements: str) -> None:
    """Change the stored rows behind the application's back: the SQLite file itself, or PostgreSQL."""
    if ctx.db.is_sqlite:
        with closing(sqlite3.connect(ctx.data_dir / DATABASE_FILE)) as connection:
            for statement in statements:
                connection.execute(statement)
            connection.commit()
        return
    import psycopg

    url = ctx.db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=False) as connection:
        for statement in statements:
            connection.execute(statement)
        connection.commit()


def stored(ctx: EnvironmentContext, entry_id: int) -> ChainRow:
    with ctx.db.read() as session:
        row = session.execute(select(*AuditRow.__table__.columns).where(AuditRow.id == entry_id)).one()
        return ChainRow(*row)


def test_an_untouched_log_holds_and_its_head_is_the_last_entry(env: EnvironmentContext) -> None:
    report = verify_log(env)
    assert report.ok and report.entries == 6
    assert report.head == Head(6, str(stored(env, 6).sha256))
    assert stored(env, 1).prev_sha256 == GENESIS
    assert stored(env, 4).prev_sha256 == stored(env, 3).sha256
    assert verify_log(env, report.head).ok


def test_a_changed_field_is_named(env: EnvironmentContext) -> None:
    tamper(env, "UPDATE audit_log SET result = 'refused' WHERE id = 3")
    report = verify_log(env)
    assert not report.ok and report.broken_at == 3
    assert report.problem is not None and "entry 3 was changed" in report.problem
    assert report.head is not None and report.head.id == 2, "the chain is intact up to entry 2"


def test_a_changed_time_is_named(env: EnvironmentContext) -> None:
    tamper(env, "UPDATE audit_log SET at = (SELECT at FROM audit_log WHERE id = 1) WHERE id = 5")
    assert verify_log(env).broken_at == 5


def test_a_changed_entry_whose_own_hash_was_recomputed_is_named(env: EnvironmentContext) -> None:
    entry = stored(env, 4)
    assert entry.prev_sha256 is not None
    forged = entry_hash(entry.prev_sha256, 4, entry.at, entry.who, entry.operation, entry.target, "done", "forged")
    tamper(env, f"UPDATE audit_log SET detail = 'forged', sha256 = '{forged}' WHERE id = 4")
    report = verify_log(env)
    assert report.broken_at == 4
    assert report.problem is not None and "entry 4 was changed" in report.problem


def test_a_removed_entry_is_named(env: EnvironmentContext) -> None:
    tamper(env, "DELETE FROM audit_log WHERE id = 3")
    report = verify_log(env)
    assert report.broken_at == 3
    assert report.problem is not None and "entry 3 was removed" in report.problem


def test_removed_first_entries_are_named(env: EnvironmentContext) -> None:
    tamper(env, "DELETE FROM audit_log WHERE id <= 2")
    report = verify_log(env)
    assert report.broken_at == 1 and report.head is None


def test_two_entries_swapped_are_named(env: EnvironmentContext) -> None:
    tamper(
        env,
        "UPDATE audit_log SET id = 1000 WHERE id = 2",
        "UPDATE audit_log SET id = 2 WHERE id = 3",
        "UPDATE audit_log SET id = 3 WHERE id = 1000",
    )
    report = verify_log(env)
    assert report.broken_at == 2
    assert report.problem is not None and "moved" in report.problem


def test_a_cut_off_tail_is_found_from_a_head_kept_elsewhere(env: EnvironmentContext) -> None:
    kept = verify_log(env).head
    assert kept is not None
    tamper(env, f"DELETE FROM audit_log WHERE id >= {kept.id - 1}")
    assert verify_log(env).ok, "what is left is a whole chain: only the head kept elsewhere tells"
    report = verify_log(env, kept)
    assert not report.ok and report.broken_at == kept.id
    assert report.problem is not None and "cut off after entry 4" in report.problem


def test_a_rewritten_tail_is_found_from_a_head_kept_elsewhere(env: EnvironmentContext) -> None:
    kept = verify_log(env).head
    assert kept is not None
    # Whoever rewrites the last entry and its hash leaves a chain that holds on its own.
    entry = stored(env, kept.id)
    assert entry.prev_sha256 is not None
    forged = entry_hash(entry.prev_sha256, kept.id, entry.at, entry.who, "init", entry.target, "done", None)
    tamper(env, f"UPDATE audit_log SET operation = 'init', detail = NULL, sha256 = '{forged}' WHERE id = {kept.id}")
    assert verify_log(env).ok
    report = verify_log(env, kept)
    assert report.broken_at == kept.id
    assert report.problem is not None and "differs from the head kept elsewhere" in report.problem


def test_entries_go_on_chaining_after_a_verify(env: EnvironmentContext) -> None:
    with env.db.write() as session:
        audit(session, "apply-config", "Orders", "done", "MaxRows")
        head = chain_head(session)
    report = verify_log(env)
    assert report.ok and report.head == head and report.entries == 7


def test_an_entry_is_appended_only_by_a_writer(env: EnvironmentContext) -> None:
    with env.db.read() as session, pytest.raises(RuntimeError, match="writer transaction"):
        audit(session, "apply-config", "Orders", "done")


def test_every_refusal_is_chained(env: EnvironmentContext) -> None:
    from app.engine import farm_admin
    from app.engine.errors import DeployCenterError

    with pytest.raises(DeployCenterError):
        farm_admin.set_enabled(env, "no-such-front-end", False)
    report = verify_log(env)
    assert report.ok and report.entries == 7
    assert stored(env, 7).result == "failed"


@pytest.mark.slow
def test_two_processes_appending_at_once_never_fork_the_chain(
    tmp_path: Path, database_url: str | None, env: EnvironmentContext
) -> None:
    url = database_url or default_url(env.data_dir)
    start = tmp_path / "start"
    per_writer = 120
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.audit_writer", url, name, str(per_writer), str(start)],
            env=child_env(),
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("writer-a", "writer-b")
    ]
    start.touch()
    for writer in writers:
        _out, err = writer.communicate(timeout=240)
        assert writer.returncode == 0, err
    report = verify_log(env)
    assert report.ok, report.problem
    assert report.entries == 6 + 2 * per_writer
    with env.db.read() as session:
        ids = list(session.scalars(select(AuditRow.id).order_by(AuditRow.id)))
        targets = list(session.scalars(select(AuditRow.target).where(AuditRow.id > 6).order_by(AuditRow.id)))
    assert ids == list(range(1, 7 + 2 * per_writer))
    assert {targets.count("writer-a"), targets.count("writer-b")} == {per_writer}


def test_a_log_from_before_the_chain_is_chained_by_its_migration(tmp_path: Path, database_url: str | None) -> None:
    db = Database(database_url or default_url(tmp_path))
    try:
        config = _config()
        with db.engine.execution_options(deploycenter_write=True).begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
        at = datetime(2026, 11, 30, 8, 15, 2, 123456, tzinfo=UTC)
        with db.engine.begin() as connection:
            for number in range(1, 8):
                connection.execute(
                    text(
                        "INSERT INTO audit_log (id, at, who, operation, target, result, detail) "
                        "VALUES (:id, :at, 'ops@host', 'publish', :target, 'done', :detail)"
                    ),
                    {
                        "id": number * 2,  # sequences leave gaps: the chain does not need consecutive ids
                        "at": at.replace(tzinfo=None, second=number),
                        "target": f"Module{number}",
                        "detail": None if number % 2 else f"run {number}, é",
                    },
                )
        upgrade_schema(db)
        with db.read() as session:
            rows = [ChainRow(*row) for row in session.execute(select(*AuditRow.__table__.columns))]
        assert [row.id for row in rows] == [2, 4, 6, 8, 10, 12, 14]
        assert rows[0].prev_sha256 == GENESIS
        assert rows[0].sha256 == entry_hash(
            GENESIS, 2, at.replace(second=1), "ops@host", "publish", "Module1", "done", None
        )
        report = verify_chain(rows)
        assert report.ok and report.entries == 7 and report.head == Head(14, str(rows[-1].sha256))
        with db.write() as session:
            audit(session, "init", "env", "done")
        ctx = EnvironmentContext(Location(tmp_path), db, None, None)  # type: ignore[arg-type]
        report = verify_log(ctx)
        assert report.ok and report.head is not None and report.head.id == 15
    finally:
        db.dispose()


def test_a_head_is_id_colon_sha256() -> None:
    from app.engine.errors import BadInputError

    sha = "ab" * 32
    assert Head.parse(f" 12:{sha.upper()} ") == Head(12, sha)
    assert str(Head(12, sha)) == f"12:{sha}"
    for wrong in ("12", f"0:{sha}", f"x:{sha}", "12:abc", f"12:{sha}0"):
        with pytest.raises(BadInputError, match="ID:SHA256"):
            Head.parse(wrong)


def test_migrating_again_does_not_launder_a_changed_entry(env: EnvironmentContext) -> None:
    tamper(
        env, "UPDATE audit_log SET result = 'refused' WHERE id = 3", "UPDATE alembic_version SET version_num = '0004'"
    )
    upgrade_schema(env.db)  # a revision that lags its tables: the migration runs again
    report = verify_log(env)
    assert report.broken_at == 3, "the entries already chained keep their hashes"


@given(
    st.integers(min_value=1, max_value=2**53),
    st.datetimes(timezones=st.just(UTC)),
    st.text(),
    st.text(max_size=40),
    st.text(),
    st.text(max_size=20),
    st.none() | st.text(),
)
def test_the_canonical_form_is_the_compact_json_array_of_the_fields(
    entry_id: int, at: datetime, who: str, operation: str, target: str, result: str, detail: str | None
) -> None:
    fields = [entry_id, at_text(at), who, operation, target, result, detail]
    expected = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    assert canonical_entry(entry_id, at, who, operation, target, result, detail) == expected
    assert json.loads(expected) == fields


def test_the_whole_log_is_exported_oldest_first_through_a_cursor(env: EnvironmentContext) -> None:
    from app.engine.read.audit_log import export_log, parse_since

    entries = [json.loads(line) for line in "".join(export_log(env, "jsonl")).splitlines()]
    assert [entry["id"] for entry in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[5]["sha256"] == verify_log(env).head.sha256  # type: ignore[union-attr]
    rows = "".join(export_log(env, "csv")).splitlines()
    assert rows[0].startswith("id,at,who,") and len(rows) == 7
    later = "".join(export_log(env, "jsonl", parse_since(entries[3]["at"]))).splitlines()
    assert [json.loads(line)["id"] for line in later] == [4, 5, 6]
