"""Stored sources without secret defaults: the source zips that older releases stored with a secret
key's default value in clear are listed on the environment, for the next opening to rewrite.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 12:00:00

The zips are files of the artifact store, which a migration does not reach: it lists them (from
the manifests the database keeps) in ``environment.clear_sources``, and ``secret_sources`` rewrites
each without its secrets, points its versions at the new zip, removes the old one and empties the
list, the first time a command that may write opens the environment.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.engine.secret_keys import is_secret

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_versions = sa.table("module_version", sa.column("source_sha256", sa.String()), sa.column("manifest", sa.JSON()))
_environment = sa.table("environment", sa.column("id", sa.Integer()), sa.column("clear_sources", sa.JSON()))


def upgrade() -> None:
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("environment")}
    if "clear_sources" not in present:  # missing only, as in 0003 and 0004
        op.add_column("environment", sa.Column("clear_sources", sa.JSON(), nullable=True))
    bind = op.get_bind()
    holding = sorted(
        {
            sha
            for sha, manifest in bind.execute(sa.select(_versions.c.source_sha256, _versions.c.manifest))
            if _holds_secret(manifest)
        }
    )
    if holding:
        bind.execute(sa.update(_environment).values(clear_sources=holding))


def downgrade() -> None:
    op.execute("ALTER TABLE environment DROP COLUMN clear_sources")


def _holds_secret(manifest: object) -> bool:
    """Whether a stored manifest gives a secret key a default value, which its source zip holds."""
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        return False
    declared = [key for key in manifest.get("secret_keys") or () if isinstance(key, str)]
    return any(value and is_secret(str(key), declared) for key, value in manifest["config"].items())
