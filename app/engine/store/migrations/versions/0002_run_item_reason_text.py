"""An item's reason holds a whole failure message: text, not a 40-character string.

SQLite never enforced the length, so long reasons (a front-end path, "producer X failed" for a
long name) worked there; PostgreSQL refused them and the run's history write failed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 07:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_item", schema=None) as batch_op:
        batch_op.alter_column("reason", existing_type=sa.String(length=40), type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("run_item", schema=None) as batch_op:
        batch_op.alter_column("reason", existing_type=sa.Text(), type_=sa.String(length=40), existing_nullable=True)
