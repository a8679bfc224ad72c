"""Change control tells other tools what needs them: ``approval-needed`` when a plan waits for
approvals, ``emergency`` when a rollback is forced past a freeze, both posted to a real receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from pytest_httpserver import HTTPServer

from app.engine import operations
from app.engine.control import plans as saved_plans
from app.engine.control import settings
from app.engine.control.document import PlanTarget, read_plan_file
from app.engine.control.gate import ChangeRequest
from app.engine.policy import PolicyChange, set_policy
from app.engine.runs.options import PLAIN_RUN
from app.engine.vocabulary import RunKind, RunStatus
from app.engine.webhooks import admin
from app.engine.webhooks.outbox import WebhookEvent
from app.engine.webhooks.sender import send_due
from tests.engine.envkit import Kit, make_kit

SATURDAY = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    made = make_kit(tmp_path, frontends=2)
    made.publish(made.bundle("Alpha"), made.bundle("Beta", depends=["Alpha"]))
    operations.upgrade(made.ctx, "11.19.0")
    yield made
    made.ctx.close()


def posted(server: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _response in server.log]


def test_a_plan_waiting_for_approvals_and_an_emergency_rollback_are_posted(
    kit: Kit, httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    events = (WebhookEvent.APPROVAL_NEEDED, WebhookEvent.EMERGENCY)
    admin.add_webhook(kit.ctx, httpserver.url_for("/hook"), None, events)
    set_policy(kit.ctx, PolicyChange(approvals=2))
    plan_file = tmp_path / "plan.json"
    saved_plans.save_plan(kit.ctx, RunKind.DEPLOY_ALL, PlanTarget(), PLAIN_RUN, plan_file, None)
    plan = read_plan_file(plan_file)

    set_policy(kit.ctx, PolicyChange(approvals=0))
    deployed = operations.deploy_all(kit.ctx)
    with time_machine.travel(SATURDAY, tick=False):
        settings.add_freeze(kit.ctx, "2026-12-05T00:00", "2026-12-06T00:00", "Europe/Lisbon", "audit")
        back = operations.rollback_run(kit.ctx, deployed.run_id, change=ChangeRequest(emergency_reason="bad build"))
    assert back.status == RunStatus.SUCCEEDED

    assert send_due(kit.ctx.db).delivered == 2
    by_type = {event["type"]: event for event in posted(httpserver)}
    waiting = by_type["org.deploycenter.approval-needed"]
    emergency = by_type["org.deploycenter.emergency"]
    assert waiting["data"]["plan_id"] == plan.plan_id and waiting["data"]["kind"] == "deploy-all"
    assert (waiting["data"]["approvals"], waiting["data"]["needed"]) == (0, 2)
    assert emergency["data"]["run"] == {"id": back.run_id, "kind": "rollback"}
    assert emergency["data"]["reason"] == "bad build"
