"""Rolling out on a load-balanced farm: each front-end's drain, undrain and health hooks, which
run left it drained and what its last hook said; each run's soak and failure budget.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-05 11:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Plain ALTER TABLE, as in 0003: a batch rebuild of these tables is refused by the foreign keys.
COLUMNS = (
    ("frontend", sa.Column("drain_cmd", sa.Text(), nullable=True)),
    ("frontend", sa.Column("undrain_cmd", sa.Text(), nullable=True)),
    ("frontend", sa.Column("health_url", sa.Text(), nullable=True)),
    ("frontend", sa.Column("health_timeout", sa.Float(), nullable=True)),
    ("frontend", sa.Column("drained_by_run", sa.Integer(), nullable=True)),
    ("frontend", sa.Column("drained_at", sa.DateTime(), nullable=True)),
    ("frontend", sa.Column("last_hook", sa.JSON(), nullable=True)),
    ("run", sa.Column("soak", sa.Float(), nullable=True)),
    ("run", sa.Column("max_failures", sa.String(length=12), nullable=True)),
)


def upgrade() -> None:
    # Each column only where it is missing, as in 0003.
    present = {
        table: {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}
        for table in {table for table, _column in COLUMNS}
    }
    for table, column in COLUMNS:
        if column.name not in present[table]:
            op.add_column(table, column)


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
