"""Environments made by a release that stored secret defaults in clear in their source zips: migrated
from a 0004 database, the first opening that may write rewrites those zips without the secrets and
removes the old ones; publish-solution and config.json still get the real values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select, update

from app.engine import operations
from app.engine.audit import audit_entries
from app.engine.bundle import load_bundle, prepare_source
from app.engine.context import Location, open_context
from app.engine.opening import existing
from app.engine.read import views
from app.engine.store.migrate import _config, current_revision, head_revision
from app.engine.store.models import EnvironmentRow, ModuleVersionRow
from app.engine.stored_source import without_secret_defaults
from tests.cli.test_stored_secrets import SECRETS, holding_a_secret, secret_bundle
from tests.engine.envkit import Kit, make_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    made = make_kit(tmp_path)
    yield made
    made.ctx.close()


def as_an_older_release_left_it(kit: Kit, bundle: Path) -> str:
    """Point every version at the bundle's source zip with its secrets in clear, as releases
    before this one stored it, and take the database back to revision 0004; the clear zip's sha."""
    store = kit.ctx.artifacts
    [clear] = store.commit([prepare_source(load_bundle(bundle), store, "the old release's source")])
    with kit.ctx.db.write() as session:
        redacted = set(session.scalars(select(ModuleVersionRow.source_sha256)))
        session.execute(update(ModuleVersionRow).values(source_sha256=clear))
    for sha in redacted:
        kit.ctx.artifacts.path(sha).unlink()
    config = _config()
    with kit.ctx.db.engine.execution_options(deploycenter_write=True).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    assert current_revision(kit.ctx.db) == "0004"
    kit.ctx.close()
    return clear


def redacted_sha(kit: Kit, bundle: Path) -> str:
    return prepare_source(without_secret_defaults(load_bundle(bundle)), kit.ctx.artifacts, "test").sha256


def test_the_first_opening_rewrites_clear_sources_and_removes_them(kit: Kit, tmp_path: Path) -> None:
    bundle = secret_bundle(tmp_path / "b")
    operations.publish(kit.ctx, [bundle])
    operations.publish(kit.ctx, [bundle])  # two versions, one stored source
    expected = redacted_sha(kit, bundle)
    clear = as_an_older_release_left_it(kit, bundle)
    assert holding_a_secret(kit.ctx.data_dir) != []

    location = Location(kit.ctx.data_dir)
    with existing(location) as ctx:
        kit.ctx = ctx
        assert current_revision(ctx.db) == head_revision()
        assert holding_a_secret(ctx.data_dir) == []
        assert not ctx.artifacts.path(clear).exists()
        with ctx.db.read() as session:
            assert set(session.scalars(select(ModuleVersionRow.source_sha256))) == {expected}
            assert session.scalar(select(EnvironmentRow.clear_sources)) is None
        [entry] = [e for e in audit_entries(ctx) if e.operation == "secure-sources"]
        assert entry.detail == "1 stored source zip(s) rewritten without their secret default values"

        assert operations.publish_solution(ctx).status == "succeeded"
        config = json.loads((kit.frontends[0] / "Mailer" / "config.json").read_text())
        assert config["SmtpPassword"] == SECRETS[0] and config["Pin"] == SECRETS[1]
        assert views.verify(ctx).drift == ()
        assert holding_a_secret(ctx.data_dir) == []
    with existing(location) as ctx:
        kit.ctx = ctx
        assert len([e for e in audit_entries(ctx) if e.operation == "secure-sources"]) == 1, "done once"


def test_a_clear_source_that_cannot_be_read_stays_listed_and_is_tried_again(kit: Kit, tmp_path: Path) -> None:
    bundle = secret_bundle(tmp_path / "b")
    operations.publish(kit.ctx, [bundle])
    clear = as_an_older_release_left_it(kit, bundle)
    path = kit.ctx.artifacts.path(clear)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # damaged: its content no longer matches its name

    location = Location(kit.ctx.data_dir)
    with existing(location) as ctx:
        kit.ctx = ctx
        with ctx.db.read() as session:
            assert session.scalar(select(EnvironmentRow.clear_sources)) == [clear]
    path.write_bytes(whole)  # restored from a backup, say
    with existing(location) as ctx:
        kit.ctx = ctx
        assert holding_a_secret(ctx.data_dir) == []
        with ctx.db.read() as session:
            assert session.scalar(select(EnvironmentRow.clear_sources)) is None


def test_a_0004_environment_without_secret_defaults_has_nothing_listed(kit: Kit, tmp_path: Path) -> None:
    operations.publish(kit.ctx, [kit.bundle("Plain", config={"Host": "mx"})])
    with kit.ctx.db.read() as session:
        sources = set(session.scalars(select(ModuleVersionRow.source_sha256)))
    config = _config()
    with kit.ctx.db.engine.execution_options(deploycenter_write=True).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    kit.ctx.close()
    kit.ctx = open_context(Location(kit.ctx.data_dir))  # migrates, rewrites nothing
    with kit.ctx.db.read() as session:
        assert session.scalar(select(EnvironmentRow.clear_sources)) is None
        assert set(session.scalars(select(ModuleVersionRow.source_sha256))) == sources
        assert session.scalar(select(func.count()).select_from(ModuleVersionRow)) == 1
