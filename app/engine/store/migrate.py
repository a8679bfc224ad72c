"""Bringing a database's schema to the version this release expects, automatically on open.

Every command opens the database, so the up-to-date check must be cheap: it reads the newest
revision from the migration scripts' own ``revision``/``down_revision`` lines (``revisions``) and
the database's from ``alembic_version``, and imports Alembic (a tenth of a second) only to
migrate, or when the scripts are not a simple chain it can read with certainty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError

from app.engine.errors import StateError
from app.engine.store.database import Database, translate_db_errors
from app.engine.store.revisions import MIGRATIONS_DIR, head_from_scripts

if TYPE_CHECKING:
    from alembic.config import Config


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    """The newest migration of this release."""
    head = head_from_scripts()
    if head is not None:
        return head
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    """The revision recorded in the database, None for a database without one."""
    with db.engine.connect() as connection:
        try:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except DBAPIError:
            rows = None  # no table yet, or something unusual: let Alembic look
        if rows is not None and len(rows) <= 1:
            return str(rows[0][0]) if rows else None
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(db: Database, *, create: bool = True) -> None:
    """Apply pending migrations in one writer transaction; a no-op when up to date.

    Without ``create``, a database with no schema at all is refused (``StateError``) and left
    as it is: only making an environment may lay a schema down where there was none.
    """
    with translate_db_errors(db):
        current = current_revision(db)
        if current == head_revision():
            return
        if current is None and not create:
            raise StateError(f"no environment in {db.file_or_url()} yet; run 'init' first")
        if db.read_only:
            raise StateError(
                f"the database {db.file_or_url()} needs its schema upgraded (from {current or 'none'}), "
                "but its folder is read-only; run this command once where it can be written"
            )
        from alembic import command

        config = _config()
        with db.engine.execution_options(deploycenter_write=True).begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
