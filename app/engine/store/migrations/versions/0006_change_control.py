"""Change control: saved plans and their approvals, the approvals each planned run needs, weekly
change windows and dated freezes.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.engine.store.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_UTC = app.engine.store.models.UTCDateTime


def upgrade() -> None:
    # Each part only where it is missing, as in 0003: a database whose recorded revision lags its
    # tables migrates all the same. Plain ALTER TABLE for the new column, as in 0003 and 0004: a
    # batch rebuild of the environment table is refused by the foreign keys.
    inspector = sa.inspect(op.get_bind())
    present = {column["name"] for column in inspector.get_columns("environment")}
    if "approvals_required" not in present:
        op.add_column(
            "environment", sa.Column("approvals_required", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    if "saved_plan" not in inspector.get_table_names():
        _create_tables()


def _create_tables() -> None:
    op.create_table(
        "saved_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _UTC(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id"),
    )
    op.create_table(
        "plan_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("identity", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("approved_at", _UTC(), nullable=False),
        sa.Column("revoked_at", _UTC(), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["saved_plan.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_plan_approval_plan_id", "plan_approval", ["plan_id"], unique=False)
    op.create_table(
        "change_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("created_at", _UTC(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "change_freeze",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("starts_at", _UTC(), nullable=False),
        sa.Column("ends_at", _UTC(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", _UTC(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("change_freeze")
    op.drop_table("change_window")
    op.drop_index("ix_plan_approval_plan_id", table_name="plan_approval")
    op.drop_table("plan_approval")
    op.drop_table("saved_plan")
    op.execute("ALTER TABLE environment DROP COLUMN approvals_required")
