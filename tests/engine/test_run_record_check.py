"""No silent skips (rules.md#no-silent-skips): a run whose record disagrees with its plan ends failed and says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.engine import operations
from app.engine.read import views
from app.engine.runs.executor import RunExecutor
from app.engine.runs.work import WorkOutcome
from app.engine.vocabulary import ItemStatus, RunStatus
from tests.engine.envkit import make_kit


def test_a_module_whose_outcome_is_lost_fails_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kit = make_kit(tmp_path)
    try:
        kit.publish(kit.bundle("Alpha"), kit.bundle("Beta"))
        operations.upgrade(kit.ctx, "11.19.0")
        finish = RunExecutor._finish

        def losing(self: RunExecutor, key: str, outcome: WorkOutcome) -> None:
            if key == "beta":
                return  # a bug that forgets one module's outcome
            finish(self, key, outcome)

        monkeypatch.setattr(RunExecutor, "_finish", losing)
        done = operations.deploy_all(kit.ctx)

        assert done.status == RunStatus.FAILED
        detail = views.run_detail(kit.ctx, done.run_id)
        assert detail.summary.message is not None
        expected = "record disagrees with its plan: 1 module(s) ended without a final status (Beta)"
        assert expected in detail.summary.message
        statuses: dict[str, Any] = {i.module: (i.status, i.reason) for i in detail.items}
        assert statuses == {"Alpha": (ItemStatus.DEPLOYED, None), "Beta": (ItemStatus.FAILED, "lost")}
    finally:
        kit.ctx.close()


def test_a_run_that_ends_as_planned_passes_the_check(tmp_path: Path) -> None:
    kit = make_kit(tmp_path)
    try:
        done = kit.publish(kit.bundle("Alpha"), kit.bundle("Beta"))
        assert done.status == RunStatus.SUCCEEDED
        assert views.run_detail(kit.ctx, done.run_id).summary.message is None
    finally:
        kit.ctx.close()
