"""Farms: front-ends on other machines, taken out of runs and back, with a health check; each
environment has a stable id to stamp the front-ends it owns; each run item says where it went.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:05:00
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not batch mode: on SQLite a batch rebuilds the table, which the foreign keys
# pointing at front-ends and environments refuse. SQLite drops columns itself since 3.35.


def upgrade() -> None:
    # Each column only where it is missing: a database whose recorded revision lags its tables
    # (restored from a copy, say) migrates all the same.
    present = {
        table: {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}
        for table in ("frontend", "environment", "run_item")
    }
    for table, column in (
        ("frontend", sa.Column("kind", sa.String(length=10), nullable=False, server_default="local")),
        ("frontend", sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())),
        ("frontend", sa.Column("health_cmd", sa.Text(), nullable=True)),
        ("environment", sa.Column("uid", sa.String(length=36), nullable=True)),
        ("run_item", sa.Column("frontends", sa.JSON(), nullable=True)),
    ):
        if column.name not in present[table]:
            op.add_column(table, column)
    op.get_bind().execute(sa.text("UPDATE environment SET uid = :uid WHERE uid IS NULL"), {"uid": str(uuid.uuid4())})


def downgrade() -> None:
    for table, column in (
        ("run_item", "frontends"),
        ("environment", "uid"),
        ("frontend", "health_cmd"),
        ("frontend", "enabled"),
        ("frontend", "kind"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
