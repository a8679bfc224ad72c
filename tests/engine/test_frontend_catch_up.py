"""A front-end added or enabled later is brought up to date by the next Deploy All (rules.md#unreachable),
including the modules whose compilation for the current platform failed: those keep their old
build live, and the new front-end must run that build too, or the record and the farm disagree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import farm_admin as frontends
from app.engine import operations
from app.engine.read import views
from tests.engine.envkit import Kit, make_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(tmp_path, frontends=1)
    yield k
    k.ctx.close()


def upgraded_with_a_legacy_module(kit: Kit) -> str:
    kit.publish(kit.bundle("Legacy", uses=["soap.legacy"], config={"Mode": "old"}), kit.bundle("Fresh"))
    operations.apply_config(kit.ctx, "Legacy", {"Mode": "tuned"})
    old = kit.current("Legacy")
    assert old is not None and "11.18.1" in old
    operations.upgrade(kit.ctx, "11.19.0")
    operations.deploy_all(kit.ctx)
    assert kit.current("Legacy") == old, "its compilation for 11.19.0 failed: the old build stays"
    return old


def test_a_front_end_added_after_an_upgrade_gets_the_old_build_of_a_module_that_failed_to_compile(
    kit: Kit,
) -> None:
    old = upgraded_with_a_legacy_module(kit)
    added = kit.root / "fe2"
    frontends.add_frontend(kit.ctx, "second", str(added))
    kit.frontends.append(added)

    planned = next(i for i in operations.plan_deploy_all(kit.ctx).items if i.module == "Legacy")
    assert planned.deploys and planned.platform == "11.18.1"
    assert f"missing on front-end {added}" in (planned.detail or ""), planned.detail

    outcome = operations.deploy_all(kit.ctx)

    assert kit.current("Legacy", 1) == old
    assert json.loads((added / "Legacy" / "config.json").read_text()) == {"Mode": "tuned"}
    item = next(i for i in views.run_detail(kit.ctx, outcome.run_id).items if i.module == "Legacy")
    assert item.status == "deployed"
    assert item.frontends == {"fe1": "live", "second": "live"}
    assert "11.19.0" in (kit.current("Fresh", 1) or ""), "what did compile went the usual way"
    assert views.verify(kit.ctx).drift == ()

    again = operations.deploy_all(kit.ctx)
    items = {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, again.run_id).items}
    assert items["Legacy"] == ("skipped", "compilation-failed"), "once everywhere, it is skipped again"


def test_a_module_that_failed_to_compile_is_left_alone_where_its_old_build_runs(kit: Kit) -> None:
    upgraded_with_a_legacy_module(kit)
    outcome = operations.deploy_all(kit.ctx)
    items = {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, outcome.run_id).items}
    assert items["Legacy"] == ("skipped", "compilation-failed")
