"""A damaged artifact in the store is caught by its hash and never deployed; the run goes on without it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.engine import operations
from app.engine.read import views
from app.engine.store.models import CompilationRow, ModuleRow, ModuleVersionRow
from tests.engine.envkit import Kit, make_kit
from tests.faults.scenery import currents, frontend_problems, history_problems


@pytest.fixture
def kit(tmp_path: Path, database_url: str | None) -> Iterator[Kit]:
    k = make_kit(tmp_path, frontends=2, database_url=database_url)
    yield k
    k.ctx.close()


def prepared_artifact(kit: Kit, module: str) -> str:
    """The sha256 of ``module``'s compilation for the environment's current platform."""
    with kit.ctx.db.read() as session:
        sha = session.scalars(
            select(CompilationRow.artifact_sha256)
            .join(ModuleVersionRow, ModuleVersionRow.id == CompilationRow.module_version_id)
            .join(ModuleRow, ModuleRow.latest_version_id == ModuleVersionRow.id)
            .where(ModuleRow.name == module, CompilationRow.platform_version == "11.19.0")
        ).one()
    assert sha is not None
    return sha


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "missing"])
def test_a_damaged_artifact_fails_its_module_with_a_message_naming_it(kit: Kit, damage: str) -> None:
    kit.publish(kit.bundle("Healthy"), kit.bundle("Damaged"), kit.bundle("Consumer", depends=["Damaged"]))
    operations.upgrade(kit.ctx, "11.19.0")
    sha = prepared_artifact(kit, "Damaged")
    stored = kit.ctx.artifacts.path(sha)
    data = bytearray(stored.read_bytes())
    if damage == "flipped byte":
        data[len(data) // 2] ^= 0x01
        stored.write_bytes(bytes(data))
    elif damage == "truncated":
        stored.write_bytes(bytes(data[: len(data) // 3]))
    else:
        stored.unlink()
    before = currents(kit.frontends, "Damaged")

    run = operations.deploy_all(kit.ctx)
    items = {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, run.run_id).items}
    status, reason = items["Damaged"]
    assert status == "failed" and f"artifact {sha}" in (reason or ""), reason
    assert ("missing" if damage == "missing" else "corrupt") in (reason or "")
    assert items["Consumer"] == ("blocked", "producer Damaged failed")
    assert items["Healthy"] == ("deployed", None)
    assert currents(kit.frontends, "Damaged") == before, "the previous release stays live"
    release_folders = {p.name for fe in kit.frontends for p in (fe / "Damaged" / "releases").iterdir()}
    assert not any(sha[:12] in name for name in release_folders), "nothing of the damaged artifact landed"
    assert frontend_problems(kit.frontends) == [] and history_problems(kit.ctx, kit.frontends) == []
