"""The cheap schema check every command runs agrees with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from app.engine.store import migrate, revisions
from app.engine.store.database import Database


def test_the_head_read_from_the_scripts_is_alembics() -> None:
    alembic_head = ScriptDirectory.from_config(migrate._config()).get_current_head()
    assert revisions.head_from_scripts() == alembic_head
    assert migrate.head_revision() == alembic_head


def test_a_new_database_is_migrated_to_the_head_and_then_left_alone(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        assert migrate.current_revision(db) is None
        migrate.upgrade_schema(db)
        assert migrate.current_revision(db) == migrate.head_revision()
        migrate.upgrade_schema(db)  # up to date: nothing to do
        assert migrate.current_revision(db) == migrate.head_revision()
    finally:
        db.dispose()


def test_the_live_name_index_gets_its_postgresql_form_when_asked() -> None:
    from sqlalchemy.dialects.postgresql.base import PGDialect
    from sqlalchemy.schema import CreateIndex

    from app.engine.store.models import Base, ModuleRow, add_postgresql_options

    add_postgresql_options()
    table = Base.metadata.tables[ModuleRow.__tablename__]
    index = next(i for i in table.indexes if i.name == "ux_module_live_name")
    dialect = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves its dialects' constructors unannotated
    assert str(CreateIndex(index).compile(dialect=dialect)).endswith("WHERE deleted_at IS NULL")
