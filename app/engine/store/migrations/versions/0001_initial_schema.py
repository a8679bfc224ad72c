"""Initial schema: environment, modules, compilations, runs, locks and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 07:04:38.808947
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.engine.store.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.Column("who", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "environment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("platform_version", sa.String(length=40), nullable=False),
        sa.Column("created_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "frontend",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "module",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_key", sa.String(length=64), nullable=False),
        sa.Column("application", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.Column("deleted_at", app.engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("latest_version_id", sa.Integer(), nullable=True),
        sa.Column("deployed_compilation_id", sa.Integer(), nullable=True),
        sa.Column("deployed_release", sa.String(length=120), nullable=True),
        sa.Column("deployed_at", app.engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("config_overrides", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("module", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_module_application"), ["application"], unique=False)
        batch_op.create_index(
            "ux_module_live_name",
            ["name_key"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("platform_version", sa.String(length=40), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.Column("finished_at", app.engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("owner_host", sa.String(length=200), nullable=False),
        sa.Column("owner_pid", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_run_status"), ["status"], unique=False)

    op.create_table(
        "module_lock",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("module_id"),
    )
    with op.batch_alter_table("module_lock", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_module_lock_run_id"), ["run_id"], unique=False)

    op.create_table(
        "module_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("depends", sa.Text(), nullable=False),
        sa.Column("published_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("module_id", "number"),
    )
    with op.batch_alter_table("module_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_module_version_module_id"), ["module_id"], unique=False)

    op.create_table(
        "platform_upgrade",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_version", sa.String(length=40), nullable=False),
        sa.Column("to_version", sa.String(length=40), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "compilation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module_version_id", sa.Integer(), nullable=False),
        sa.Column("platform_version", sa.String(length=40), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=True),
        sa.Column("artifact_size", sa.Integer(), nullable=False),
        sa.Column("compiled_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_version_id"],
            ["module_version.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("module_version_id", "platform_version"),
    )
    with op.batch_alter_table("compilation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_compilation_module_version_id"), ["module_version_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_compilation_platform_version"), ["platform_version"], unique=False)

    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("frontend_id", sa.Integer(), nullable=False),
        sa.Column("compilation_id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.String(length=120), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("deployed_at", app.engine.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["compilation_id"],
            ["compilation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["frontend_id"],
            ["frontend.id"],
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deployment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployment_module_id"), ["module_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deployment_run_id"), ["run_id"], unique=False)

    op.create_table(
        "run_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("module_name", sa.String(length=64), nullable=False),
        sa.Column("application", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("compilation_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("started_at", app.engine.store.models.UTCDateTime(), nullable=True),
        sa.Column("finished_at", app.engine.store.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["compilation_id"],
            ["compilation.id"],
        ),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["module.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "module_id"),
    )
    with op.batch_alter_table("run_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_run_item_run_id"), ["run_id"], unique=False)

    # module <-> module_version/compilation reference each other; SQLite cannot add a
    # constraint to an existing table, so there the ORM relationship is the only guard.
    if op.get_bind().dialect.name != "sqlite":
        op.create_foreign_key("fk_module_latest_version", "module", "module_version", ["latest_version_id"], ["id"])
        op.create_foreign_key(
            "fk_module_deployed_compilation",
            "module",
            "compilation",
            ["deployed_compilation_id"],
            ["id"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_module_deployed_compilation", "module", type_="foreignkey")
        op.drop_constraint("fk_module_latest_version", "module", type_="foreignkey")
    with op.batch_alter_table("run_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_item_run_id"))

    op.drop_table("run_item")
    with op.batch_alter_table("deployment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_run_id"))
        batch_op.drop_index(batch_op.f("ix_deployment_module_id"))

    op.drop_table("deployment")
    with op.batch_alter_table("compilation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compilation_platform_version"))
        batch_op.drop_index(batch_op.f("ix_compilation_module_version_id"))

    op.drop_table("compilation")
    op.drop_table("platform_upgrade")
    with op.batch_alter_table("module_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_module_version_module_id"))

    op.drop_table("module_version")
    with op.batch_alter_table("module_lock", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_module_lock_run_id"))

    op.drop_table("module_lock")
    with op.batch_alter_table("run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_status"))
        batch_op.drop_index(batch_op.f("ix_run_kind"))

    op.drop_table("run")
    with op.batch_alter_table("module", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_module_live_name",
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_module_application"))

    op.drop_table("module")
    op.drop_table("frontend")
    op.drop_table("environment")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
