"""A publish cancelled before it reached some modules: their new versions, never compiled, are
discarded when the run ends, so that no module is left at a version nothing will compile.

(A publish killed at the same point is settled by the next command: ``tests/faults/test_sigkill_publish``.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.audit import audit_entries
from app.engine.events import Event, LogLine, RunStarted
from app.engine.read import views
from app.engine.vocabulary import ItemStatus, RunStatus
from tests.engine.envkit import Kit, make_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    made = make_kit(tmp_path)
    made.publish(made.bundle("Orders"))
    yield made
    made.ctx.close()


def test_a_publish_cancelled_before_compiling_discards_what_it_did_not_reach(kit: Kit, tmp_path: Path) -> None:
    cancel = threading.Event()
    events: list[Event] = []

    def cancel_at_start(event: Event) -> None:
        events.append(event)
        if isinstance(event, RunStarted):
            cancel.set()  # before any module is handed out

    orders = kit.bundle("Orders", files={"src/extra.py": "EXTRA = 2\n"})
    fresh = kit.bundle("Fresh")
    outcome = operations.publish(kit.ctx, [orders, fresh], workers=1, on_event=cancel_at_start, cancel=cancel)

    assert outcome.status == RunStatus.CANCELLED
    run = views.run_detail(kit.ctx, outcome.run_id)
    cancelled = [item for item in run.items if item.status == ItemStatus.CANCELLED]
    assert cancelled, "the cancel came before any module was reached"
    assert all(item.reason == "cancelled" and "discarded" in (item.message or "") for item in cancelled)
    modules = {module.name: module for module in views.modules(kit.ctx)}
    assert all(module.state != "not-prepared" for module in modules.values()), modules
    if "Orders" in {item.module for item in cancelled}:
        assert modules["Orders"].latest_version == 1 and modules["Orders"].state == "deployed"
    if "Fresh" in {item.module for item in cancelled}:
        assert "Fresh" not in modules
    [warning] = [e for e in events if isinstance(e, LogLine) and e.level == "warning" and "discarded" in e.text]
    assert f"run {outcome.run_id} (publish)" in warning.text
    entries = [e for e in audit_entries(kit.ctx) if e.result == "discarded"]
    assert len(entries) == 1 and entries[0].target == f"run {outcome.run_id}"
