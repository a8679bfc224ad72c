"""Migration 0007 from a 0004 database: front-end hooks and run options added, nothing lost."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from app.engine.store import migrate
from app.engine.store.database import Database
from app.engine.store.revisions import head_from_scripts


def test_a_0004_database_gains_the_hook_and_option_columns_and_keeps_its_rows(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        config = migrate._config()
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
        with db.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO frontend (name, path, kind, enabled, health_cmd)"
                    " VALUES ('web1', '/srv', 'local', 1, 'true')"
                )
            )
        assert migrate.current_revision(db) == "0004"

        migrate.upgrade_schema(db)

        assert migrate.current_revision(db) == head_from_scripts()  # 0007 and every one after it
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("frontend")}
        assert {"drain_cmd", "undrain_cmd", "health_url", "health_timeout", "drained_by_run", "last_hook"} <= columns
        assert {"soak", "max_failures"} <= {c["name"] for c in sa.inspect(db.engine).get_columns("run")}
        with db.engine.connect() as connection:
            row = connection.execute(sa.text("SELECT name, health_cmd, drain_cmd, drained_by_run FROM frontend")).one()
        assert tuple(row) == ("web1", "true", None, None)

        with db.engine.begin() as connection:  # and back down, for a release that must be undone
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        assert "drain_cmd" not in {c["name"] for c in sa.inspect(db.engine).get_columns("frontend")}
    finally:
        db.dispose()
