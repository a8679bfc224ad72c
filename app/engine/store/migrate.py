"""Bringing a database's schema to the version this release expects, automatically on open."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.engine.store.database import MIGRATIONS_DIR, Database, translate_db_errors


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(db: Database) -> None:
    """Apply pending migrations in one writer transaction; a no-op when up to date."""
    with translate_db_errors(db):
        if current_revision(db) == head_revision():
            return
        config = _config()
        with db.engine.execution_options(deploycenter_write=True).begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
