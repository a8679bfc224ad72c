"""The store behaves the same on SQLite and PostgreSQL: schema, JSON, the partial unique index, UTC times.

The initial migration was generated on SQLite; here it is applied to a real PostgreSQL server too
and compared with the models, both ways (upgrade and downgrade).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError, StatementError

from app.engine.store.database import Database, default_url
from app.engine.store.migrate import _config, current_revision, head_revision, upgrade_schema
from app.engine.store.models import Base, ModuleRow, ModuleVersionRow, RunRow


@pytest.fixture
def db(tmp_path: Path, database_url: str | None) -> Iterator[Database]:
    database = Database(database_url or default_url(tmp_path))
    upgrade_schema(database)
    yield database
    database.dispose()


def add_module(db: Database, name: str, **values: Any) -> int:
    with db.write() as session:
        values.setdefault("config_overrides", {})
        row = ModuleRow(
            name=name,
            name_key=name.casefold(),
            application="App",
            description="",
            created_at=datetime.now(UTC),
            **values,
        )
        session.add(row)
        session.flush()
        return row.id


def schema_differences(db: Database) -> list[tuple[str, str]]:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        found = []
        for diff in compare_metadata(context, Base.metadata):
            change = diff[0] if isinstance(diff, tuple) else diff[0][0]
            subject = diff[1] if isinstance(diff, tuple) else diff[0][2:4]
            found.append((change, str(getattr(subject, "name", subject))))
        return found


def test_migrations_build_exactly_the_schema_the_models_describe(db: Database) -> None:
    assert current_revision(db) == head_revision()
    expected = []
    if db.is_sqlite:
        # SQLite cannot add a constraint to an existing table: the circular pair stays unenforced.
        expected = [("add_fk", "fk_module_deployed_compilation"), ("add_fk", "fk_module_latest_version")]
    assert sorted(schema_differences(db)) == expected


def test_schema_downgrades_to_nothing_and_upgrades_again(db: Database) -> None:
    config = _config()
    with db.engine.execution_options(deploycenter_write=True).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade_schema(db)
    assert current_revision(db) == head_revision()
    assert "module_version" in inspect(db.engine).get_table_names()


def test_the_circular_foreign_keys_are_enforced_on_postgresql(postgres_url: str) -> None:
    db = Database(postgres_url)
    upgrade_schema(db)
    foreign = {fk["name"]: fk["referred_table"] for fk in inspect(db.engine).get_foreign_keys("module")}
    assert foreign == {
        "fk_module_latest_version": "module_version",
        "fk_module_deployed_compilation": "compilation",
    }
    try:
        with pytest.raises(IntegrityError, match="fk_module_latest_version"):
            add_module(db, "Dangling", latest_version_id=12345)
    finally:
        db.dispose()


def test_json_columns_keep_nested_values_and_unicode(db: Database) -> None:
    manifest = {
        "name": "Orders",
        "depends": ["Customers", "Prices"],
        "uses": [],
        "config": {"Greeting": "grüß dich — 你好", "Empty": ""},
        "nested": {"list": [1, 2.5, None, True]},
    }
    module_id = add_module(db, "Orders", config_overrides={"MaxRows": "100"})
    with db.write() as session:
        session.add(
            ModuleVersionRow(
                module_id=module_id,
                number=1,
                source_sha256="a" * 64,
                manifest=manifest,
                depends="Customers,Prices",
                published_at=datetime.now(UTC),
                published_by="tester",
            )
        )
        module = session.get(ModuleRow, module_id)
        assert module is not None
        module.config_overrides = {**module.config_overrides, "Mode": "fast"}
    with db.read() as session:
        version = session.scalars(select(ModuleVersionRow)).one()
        assert version.manifest == manifest
        module = session.get(ModuleRow, module_id)
        assert module is not None and module.config_overrides == {"MaxRows": "100", "Mode": "fast"}


def test_a_live_name_is_unique_ignoring_case_and_free_again_once_deleted(db: Database) -> None:
    first = add_module(db, "Orders")
    with pytest.raises(IntegrityError):
        add_module(db, "ORDERS")
    with db.write() as session:
        session.execute(update(ModuleRow).where(ModuleRow.id == first).values(deleted_at=datetime.now(UTC)))
    second = add_module(db, "orders")
    with pytest.raises(IntegrityError):
        add_module(db, "Orders")
    with db.read() as session:
        rows = session.execute(select(ModuleRow.id, ModuleRow.deleted_at.is_(None)).order_by(ModuleRow.id)).all()
    assert [tuple(row) for row in rows] == [(first, False), (second, True)]


def run_row(started_at: datetime) -> RunRow:
    return RunRow(
        kind="deploy-all",
        status="succeeded",
        platform_version="11.19.0",
        started_by="tester",
        started_at=started_at,
        owner_host="here",
        owner_pid=1,
        heartbeat_at=started_at,
    )


def test_times_come_back_as_the_same_instant_in_utc(db: Database) -> None:
    plus_two = timezone(timedelta(hours=2))
    instant = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=plus_two)
    with db.write() as session:
        session.add_all([run_row(instant), run_row(instant + timedelta(microseconds=1))])
    with db.read() as session:
        earlier, later = session.scalars(select(RunRow.started_at).order_by(RunRow.started_at)).all()
        newer_than = session.scalars(select(RunRow.id).where(RunRow.started_at > instant)).all()
    assert earlier == instant and earlier.tzinfo == UTC and earlier.hour == 23
    assert later - earlier == timedelta(microseconds=1)
    assert len(newer_than) == 1, "comparisons in SQL use the stored UTC value"


def test_a_naive_time_is_refused_before_it_reaches_the_database(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db.write() as session:
        session.add(run_row(datetime(2026, 1, 1, 12, 0)))
        session.flush()


def test_a_reader_sees_one_snapshot_while_a_writer_commits(db: Database) -> None:
    add_module(db, "First")
    with db.read() as session:
        before = session.scalars(select(ModuleRow.name)).all()
        add_module(db, "Second")
        assert session.scalars(select(ModuleRow.name)).all() == before
    with db.read() as session:
        assert sorted(session.scalars(select(ModuleRow.name)).all()) == ["First", "Second"]


def test_long_reasons_and_messages_fit(db: Database) -> None:
    """PostgreSQL enforces declared lengths; an item's reason may be a whole failure message."""
    from app.engine.runs import records as runs
    from app.engine.vocabulary import ItemStatus, RunKind

    module_id = add_module(db, "M" + "x" * 63)
    reason = "front-end /srv/" + "deep/" * 60 + " is a file, but Deploy Center needs a folder there"
    with db.write() as session:
        item = runs.NewItem(module_id, "M" + "x" * 63, "App", 1, None, ItemStatus.FAILED, reason, reason * 3)
        run = runs.create_run(session, RunKind.DEPLOY, "11.19.0", [item], 1)
        run_id = run.id
    with db.read() as session:
        stored = session.get(RunRow, run_id)
        assert stored is not None and stored.items[0].reason == reason


def test_an_environment_with_history_migrates_from_the_first_schema(tmp_path: Path, database_url: str | None) -> None:
    from app.engine import operations
    from app.engine.context import Location, open_context
    from app.engine.read import views
    from tests.bundles import write_bundle

    location = Location(tmp_path / "env", database_url)
    ctx = operations.init_environment(location, frontends=[str(tmp_path / "fe")])
    try:
        bundles = [write_bundle(tmp_path / "b", f"M{i}", depends=[f"M{i - 1}"] if i else []) for i in range(4)]
        operations.publish(ctx, bundles)
        operations.upgrade(ctx, "11.19.0")
        operations.deploy_all(ctx)
        before = [(r.id, r.status, r.counts) for r in views.run_summaries(ctx)]
        config = _config()
        with ctx.db.engine.execution_options(deploycenter_write=True).begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        assert current_revision(ctx.db) == "0001"
    finally:
        ctx.close()
    ctx = open_context(location)  # opening migrates to the newest schema
    try:
        assert current_revision(ctx.db) == head_revision()
        assert [(r.id, r.status, r.counts) for r in views.run_summaries(ctx)] == before
        assert views.verify(ctx).drift == ()
    finally:
        ctx.close()
