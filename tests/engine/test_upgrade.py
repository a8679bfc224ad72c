"""Upgrade preparation: producers first, failures named, re-running prepares only what is missing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.errors import BadInputError
from app.engine.read import views
from tests.engine.envkit import Kit, make_kit


@pytest.fixture
def kit(tmp_path: Path, database_url: str | None) -> Iterator[Kit]:
    k = make_kit(tmp_path, database_url=database_url)
    yield k
    k.ctx.close()


def prepared(kit: Kit, run_id: int) -> dict[str, tuple[str, str | None]]:
    return {i.module: (i.status, i.message) for i in views.run_detail(kit.ctx, run_id).items}


def test_a_failed_producer_fails_its_consumers_with_a_reason_naming_it(kit: Kit) -> None:
    kit.publish(
        kit.bundle("Gateway", uses=["soap.legacy"]),
        kit.bundle("Tracking", depends=["Gateway"]),
        kit.bundle("Returns", depends=["Tracking"]),
        kit.bundle("Fine"),
    )
    outcome = operations.upgrade(kit.ctx, "11.19.0")
    items = prepared(kit, outcome.run_id)
    assert outcome.status == "failed"
    assert items["Gateway"] == ("failed", "uses capability 'soap.legacy', which platform 11.19.0 does not offer")
    assert items["Tracking"] == ("failed", "producer 'Gateway' failed to compile for 11.19.0")
    assert items["Returns"] == ("failed", "producer 'Tracking' failed to compile for 11.19.0")
    assert items["Fine"][0] == "prepared"
    assert kit.current("Gateway") is not None and "11.18.1" in (kit.current("Gateway") or "")


def test_rerunning_the_upgrade_prepares_only_what_failed_or_is_missing(kit: Kit) -> None:
    kit.publish(
        kit.bundle("Gateway", uses=["soap.legacy"]), kit.bundle("Tracking", depends=["Gateway"]), kit.bundle("Fine")
    )
    operations.upgrade(kit.ctx, "11.19.0")
    # The producer is fixed by a new version that no longer needs the removed capability...
    kit.publish(kit.bundle("Gateway", uses=["http.v2"]))
    again = operations.upgrade(kit.ctx, "11.19.0")
    # ...so preparing again compiles only the consumer that was missing, and it now succeeds.
    assert prepared(kit, again.run_id) == {"Tracking": ("prepared", "prepared for 11.19.0")}
    assert again.status == "succeeded"
    assert views.status(kit.ctx).upgrade_from == "11.18.1"


def test_upgrade_records_who_and_when_and_refuses_downgrades(kit: Kit) -> None:
    kit.publish(kit.bundle("One"))
    operations.upgrade(kit.ctx, "11.19.1")
    state = views.status(kit.ctx)
    assert (state.platform_version, state.upgrade_from, state.upgrade_to) == ("11.19.1", "11.18.1", "11.19.1")
    with pytest.raises(BadInputError, match=re.escape("cannot downgrade from 11.19.1 to 11.19.0")):
        operations.upgrade(kit.ctx, "11.19.0")
    with pytest.raises(BadInputError, match="unknown platform version"):
        operations.upgrade(kit.ctx, "99.0")


def test_artifacts_are_reproducible_per_platform(kit: Kit, tmp_path: Path) -> None:
    kit.publish(kit.bundle("Same"))
    first = kit.current("Same")
    kit.publish(kit.bundle("Same"))  # identical content, new version number
    second = kit.current("Same")
    assert first and second and first.split("-")[-1] == second.split("-")[-1], "same bundle, same artifact"
    operations.upgrade(kit.ctx, "11.19.0")
    operations.deploy_all(kit.ctx)
    third = kit.current("Same")
    assert third and third.split("-")[-1] != second.split("-")[-1], "another platform, another artifact"
