"""Audit chain, metrics file and webhooks: every audit entry carries the hash of the one before
(the entries already there are chained here, in id order), the environment may name a metrics
file, and webhook events wait in an outbox until each receiver has them.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.engine.store.models
from app.engine.audit_chain import GENESIS, ChainRow, row_hash

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Entries hashed and updated per statement while the existing log is chained.
CHAIN_BATCH = 5000

_audit = sa.table(
    "audit_log",
    sa.column("id", sa.Integer()),
    sa.column("at", app.engine.store.models.UTCDateTime()),
    sa.column("who", sa.String()),
    sa.column("operation", sa.String()),
    sa.column("target", sa.Text()),
    sa.column("result", sa.String()),
    sa.column("detail", sa.Text()),
    sa.column("prev_sha256", sa.String()),
    sa.column("sha256", sa.String()),
)


def upgrade() -> None:
    # Each part only where it is missing, as in 0003: a database whose recorded revision lags its
    # tables migrates all the same.
    bind = op.get_bind()
    columns = {column["name"]: column for column in sa.inspect(bind).get_columns("audit_log")}
    for name in ("prev_sha256", "sha256"):
        if name not in columns:
            op.add_column("audit_log", sa.Column(name, sa.String(length=64), nullable=True))
    _chain_unchained_entries(bind)
    if any(columns.get(name, {"nullable": True})["nullable"] for name in ("prev_sha256", "sha256")):
        # A batch: SQLite makes a column NOT NULL only by rebuilding the table (nothing refers to it).
        with op.batch_alter_table("audit_log") as batch:
            batch.alter_column("prev_sha256", existing_type=sa.String(length=64), nullable=False)
            batch.alter_column("sha256", existing_type=sa.String(length=64), nullable=False)
    if "metrics_file" not in {c["name"] for c in sa.inspect(bind).get_columns("environment")}:
        op.add_column("environment", sa.Column("metrics_file", sa.Text(), nullable=True))
    if "webhook" not in sa.inspect(bind).get_table_names():
        _create_webhook_tables()


def _chain_unchained_entries(bind: sa.engine.Connection) -> None:
    """Hash every entry without a hash, in id order and in batches, each chained to the one before.

    Entries already chained are left as they are: chaining them again would hide a change made
    to them since.
    """
    first = bind.scalar(sa.select(sa.func.min(_audit.c.id)).where(_audit.c.sha256.is_(None)))
    if first is None:
        return
    before = bind.scalar(
        sa.select(_audit.c.sha256).where(_audit.c.id < first, _audit.c.sha256.is_not(None)).order_by(_audit.c.id.desc())
    )
    prev = before or GENESIS
    last_id = first - 1
    while True:
        rows = [
            ChainRow(*row)
            for row in bind.execute(
                sa.select(_audit)
                .where(_audit.c.id > last_id, _audit.c.sha256.is_(None))
                .order_by(_audit.c.id)
                .limit(CHAIN_BATCH)
            )
        ]
        if not rows:
            return
        updates = []
        for row in rows:
            sha = row_hash(row, prev)
            updates.append({"entry_id": row.id, "prev": prev, "sha": sha})
            prev = sha
        bind.execute(
            _audit.update()
            .where(_audit.c.id == sa.bindparam("entry_id"))
            .values(prev_sha256=sa.bindparam("prev"), sha256=sa.bindparam("sha")),
            updates,
        )
        last_id = rows[-1].id


def _create_webhook_tables() -> None:
    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("events", sa.String(length=200), nullable=True),
        sa.Column("created_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "webhook_event",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("created_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.Column("lease_until", app.engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("last_try_at", app.engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("last_result", sa.Text(), nullable=True),
        sa.Column("delivered_at", app.engine.store.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["webhook_event.id"]),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhook.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_delivery_due", "webhook_delivery", ["state", "next_try_at"])
    op.create_index("ix_webhook_delivery_event_id", "webhook_delivery", ["event_id"])
    op.create_index("ix_webhook_delivery_webhook_id", "webhook_delivery", ["webhook_id"])


def downgrade() -> None:
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_event")
    op.drop_table("webhook")
    op.execute("ALTER TABLE environment DROP COLUMN metrics_file")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("sha256")
        batch.drop_column("prev_sha256")
