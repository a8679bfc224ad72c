"""Read-only views: the counts status computes in SQL agree with the per-module states."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.read import views
from tests.engine.envkit import Kit, make_kit


@pytest.fixture
def kit(tmp_path: Path, database_url: str | None) -> Iterator[Kit]:
    k = make_kit(tmp_path, database_url=database_url)
    yield k
    k.ctx.close()


def test_status_counts_every_state_like_the_modules_view(kit: Kit) -> None:
    kit.publish(
        kit.bundle("Legacy", uses=["soap.legacy"]),
        kit.bundle("Consumer", depends=["Legacy"]),
        kit.bundle("Ready1"),
        kit.bundle("Ready2"),
        kit.bundle("Done"),
    )
    operations.upgrade(kit.ctx, "11.19.0")
    operations.deploy_modules(kit.ctx, operations.resolve_modules(kit.ctx, ["Done"]))
    kit.publish(kit.bundle("Fresh", platform="<11.19"))  # refuses 11.19.0: a failed compilation
    expected = Counter(module.state for module in views.modules(kit.ctx))
    state = views.status(kit.ctx)
    counted = {
        views.READY: state.ready,
        views.COMPILATION_FAILED: state.compilation_failed,
        views.DEPLOYED: state.deployed,
        views.NOT_PREPARED: state.not_prepared,
    }
    assert counted == {name: expected.get(name, 0) for name in counted}
    assert state.total == sum(expected.values()) == 6
    assert state.ready == 2 and state.deployed == 1 and state.compilation_failed >= 2
