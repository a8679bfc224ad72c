"""Release lifecycle: what was live before each run item (the rollback target), whether a run
switched one front-end at a time, and how many older releases each front-end keeps.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, as in 0003: a batch rebuild of these tables is refused by the foreign keys.


def upgrade() -> None:
    # Each column only where it is missing, as in 0003.
    present = {
        table: {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}
        for table in ("run_item", "run", "environment")
    }
    for table, column in (
        ("run_item", sa.Column("previous_release", sa.String(length=120), nullable=True)),
        ("run_item", sa.Column("previous_compilation_id", sa.Integer(), nullable=True)),
        ("run", sa.Column("rolling", sa.Boolean(), nullable=False, server_default=sa.false())),
        ("environment", sa.Column("keep_releases", sa.Integer(), nullable=True)),
    ):
        if column.name not in present[table]:
            op.add_column(table, column)


def downgrade() -> None:
    for table, column in (
        ("environment", "keep_releases"),
        ("run", "rolling"),
        ("run_item", "previous_compilation_id"),
        ("run_item", "previous_release"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
