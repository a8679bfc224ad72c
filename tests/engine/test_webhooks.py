"""Webhook events against a real HTTP receiver on 127.0.0.1: what is posted, when it is tried again,
when it is given up, and that events commit (or not) with what they report.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select, update
from werkzeug import Request, Response

from app.engine.context import EnvironmentContext
from app.engine.identity import host_name, utcnow
from app.engine.read.audit_log import verify_log
from app.engine.store.models import WebhookDeliveryRow, WebhookEventRow
from app.engine.webhooks import admin
from app.engine.webhooks.deliveries import DEAD, DELIVERED, TryOutcome, claim_due, record_try, retry_delay
from app.engine.webhooks.outbox import WebhookEvent, enqueue, parse_events
from app.engine.webhooks.sender import SIGNATURE_HEADER, send_due
from tests.engine.envkit import Kit, make_kit

SECRET = "correct horse battery staple"


@pytest.fixture
def kit(tmp_path: Path, database_url: str | None) -> Iterator[Kit]:
    kit = make_kit(tmp_path, database_url=database_url)
    yield kit
    kit.ctx.close()


def hook(ctx: EnvironmentContext, url: str, tmp_path: Path, events: str | None = None) -> admin.Webhook:
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    return admin.add_webhook(ctx, url, secret, parse_events(events) if events else None)


def posted(server: HTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request, _response in server.log]


def delivery_states(ctx: EnvironmentContext) -> list[tuple[str, str, int]]:
    with ctx.db.read() as session:
        return [
            (event_type, state, attempts)
            for event_type, state, attempts in session.execute(
                select(WebhookEventRow.type, WebhookDeliveryRow.state, WebhookDeliveryRow.attempts)
                .join(WebhookEventRow, WebhookEventRow.id == WebhookDeliveryRow.event_id)
                .order_by(WebhookDeliveryRow.id)
            )
        ]


def test_a_run_posts_signed_cloudevents_for_its_start_and_end(kit: Kit, httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    hook(kit.ctx, httpserver.url_for("/hook"), tmp_path)
    outcome = kit.publish(kit.bundle("Orders"))
    report = send_due(kit.ctx.db)
    assert (report.delivered, report.failed) == (2, 0)
    started, finished = posted(httpserver)
    assert started["specversion"] == "1.0" and started["type"] == "org.deploycenter.run-started"
    assert finished["type"] == "org.deploycenter.run-finished"
    assert started["id"] != finished["id"] and started["source"] == finished["source"]
    assert started["source"].startswith("urn:deploycenter:") and started["time"].endswith("Z")
    assert finished["subject"] == f"run {outcome.run_id}"
    data = finished["data"]
    assert (data["id"], data["kind"], data["status"]) == (outcome.run_id, "publish", "succeeded")
    assert data["counts"]["deployed"] == 1 and data["counts"]["failed"] == 0
    assert started["data"]["status"] == "running" and started["data"]["counts"]["pending"] == 1
    head = verify_log(kit.ctx).head
    assert head is not None and int(finished["data"]["audit_head"].split(":")[0]) <= head.id
    for request, _response in httpserver.log:
        assert request.headers["Content-Type"] == "application/cloudevents+json"
        expected = "sha256=" + hmac.new(SECRET.encode(), request.get_data(), hashlib.sha256).hexdigest()
        assert request.headers[SIGNATURE_HEADER] == expected


def test_a_failed_run_also_sends_run_failed_to_those_who_want_it(
    kit: Kit, httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/all").respond_with_data("ok")
    httpserver.expect_request("/failures").respond_with_data("ok")
    hook(kit.ctx, httpserver.url_for("/all"), tmp_path)
    hook(kit.ctx, httpserver.url_for("/failures"), tmp_path, "run-failed")
    kit.publish(kit.bundle("Broken", files={"bad.py": "def broken(:\n"}))
    assert send_due(kit.ctx.db).delivered == 4
    by_path = [(request.path, json.loads(request.get_data())["type"]) for request, _ in httpserver.log]
    assert sorted(by_path) == [
        ("/all", "org.deploycenter.run-failed"),
        ("/all", "org.deploycenter.run-finished"),
        ("/all", "org.deploycenter.run-started"),
        ("/failures", "org.deploycenter.run-failed"),
    ]


def test_a_receiver_failing_the_first_tries_gets_the_same_event_later(
    kit: Kit, httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_oneshot_request("/hook").respond_with_data("busy", status=503)
    httpserver.expect_oneshot_request("/hook").respond_with_data("busy", status=502)
    httpserver.expect_request("/hook").respond_with_data("ok")
    hook(kit.ctx, httpserver.url_for("/hook"), tmp_path, "approval-needed")
    with kit.ctx.db.write() as session:
        event_id = enqueue(session, "approval-needed", {"plan_id": "ab12", "kind": "deploy-all", "approvals": 0})
    start = utcnow()
    assert send_due(kit.ctx.db, now=start).failed == 1
    assert send_due(kit.ctx.db, now=start + retry_delay(1) / 2).failed == 0, "not due yet"
    assert send_due(kit.ctx.db, now=start + retry_delay(1)).failed == 1
    assert send_due(kit.ctx.db, now=start + retry_delay(1) + retry_delay(2)).delivered == 1
    bodies = [request.get_data() for request, _ in httpserver.log]
    assert len(bodies) == 3 and len(set(bodies)) == 1, "every try posts the same body"
    event = json.loads(bodies[0])
    assert event["id"] == event_id and event["type"] == "org.deploycenter.approval-needed"
    assert event["data"]["plan_id"] == "ab12" and event["data"]["audit_head"]
    assert delivery_states(kit.ctx) == [("approval-needed", DELIVERED, 3)]
    assert [r for _, r in httpserver.log][-1].status_code == 200


def test_a_receiver_that_stays_down_is_tried_for_more_than_ten_minutes_then_given_up_after_a_day(
    kit: Kit, httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/hook").respond_with_data("down", status=500)
    hook(kit.ctx, httpserver.url_for("/hook"), tmp_path)
    with kit.ctx.db.write() as session:
        enqueue(session, WebhookEvent.EMERGENCY, {"run": 7, "reason": "outage"})
    tries = []
    now = utcnow()
    while delivery_states(kit.ctx)[0][1] != DEAD:
        assert send_due(kit.ctx.db, now=now).failed == 1
        tries.append(now)
        with kit.ctx.db.read() as session:
            now = session.scalars(select(WebhookDeliveryRow.next_try_at)).one()
    gaps = [later - earlier for earlier, later in itertools.pairwise(tries)]
    assert gaps == sorted(gaps) and gaps[0] < timedelta(minutes=1) and gaps[-1] <= timedelta(hours=1)
    within_ten_minutes = [at for at in tries if at - tries[0] <= timedelta(minutes=10)]
    assert len(within_ten_minutes) >= 5 and tries[-1] - tries[0] >= timedelta(days=1)
    assert len(tries) == len(httpserver.log)


def test_two_senders_never_take_the_same_try(kit: Kit, httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    hook(kit.ctx, httpserver.url_for("/hook"), tmp_path)
    with kit.ctx.db.write() as session:
        for number in range(3):
            enqueue(session, WebhookEvent.EMERGENCY, {"number": number})
    first = claim_due(kit.ctx.db, limit=2)
    assert len(first) == 2
    second = claim_due(kit.ctx.db, limit=5)
    assert [c.delivery_id for c in second] == [3], "the two leased ones are not offered again"
    assert claim_due(kit.ctx.db) == []


def test_a_lease_of_a_process_that_is_gone_is_taken_over_at_once(kit: Kit, tmp_path: Path) -> None:
    hook(kit.ctx, "http://127.0.0.1:9/hook", tmp_path)
    with kit.ctx.db.write() as session:
        enqueue(session, WebhookEvent.EMERGENCY, {"run": 1})
    far = utcnow() + timedelta(hours=1)
    for owner, offered in ((f"{host_name()}:999999999", True), ("elsewhere:1", False)):
        with kit.ctx.db.write() as session:
            session.execute(update(WebhookDeliveryRow).values(lease_owner=owner, lease_until=far))
        assert len(claim_due(kit.ctx.db)) == int(offered), owner


def test_a_try_whose_lease_was_taken_over_records_nothing(kit: Kit, tmp_path: Path) -> None:
    hook(kit.ctx, "http://127.0.0.1:9/hook", tmp_path)
    with kit.ctx.db.write() as session:
        enqueue(session, WebhookEvent.EMERGENCY, {"run": 1})
    (claim,) = claim_due(kit.ctx.db)
    with kit.ctx.db.write() as session:  # as another sender would, once this lease ran out
        session.execute(update(WebhookDeliveryRow).values(lease_owner="elsewhere:1"))
    assert record_try(kit.ctx.db, claim, TryOutcome(True, "HTTP 200")) is None
    assert delivery_states(kit.ctx) == [("emergency", "pending", 0)]


def test_an_event_is_recorded_with_what_it_reports_or_not_at_all(kit: Kit, tmp_path: Path) -> None:
    hook(kit.ctx, "http://127.0.0.1:9/hook", tmp_path)
    with pytest.raises(ZeroDivisionError), kit.ctx.db.write() as session:
        enqueue(session, WebhookEvent.APPROVAL_NEEDED, {"plan_id": "x"})
        1 / 0  # noqa: B018  (the transaction that reported it fails)
    with kit.ctx.db.read() as session:
        assert session.scalar(select(func.count()).select_from(WebhookEventRow)) == 0
    with kit.ctx.db.read() as session, pytest.raises(RuntimeError, match="writer transaction"):
        enqueue(session, WebhookEvent.APPROVAL_NEEDED, {"plan_id": "x"})


def test_no_event_is_recorded_when_no_webhook_wants_it(kit: Kit, tmp_path: Path) -> None:
    hook(kit.ctx, "http://127.0.0.1:9/hook", tmp_path, "emergency")
    kit.publish(kit.bundle("Orders"))
    with kit.ctx.db.write() as session:
        assert enqueue(session, WebhookEvent.RUN_FAILED, {"id": 1}) is None
    assert delivery_states(kit.ctx) == []


def test_removing_a_webhook_drops_what_waits_for_it(kit: Kit, tmp_path: Path) -> None:
    gone = hook(kit.ctx, "http://127.0.0.1:9/gone", tmp_path)
    hook(kit.ctx, "http://127.0.0.1:9/kept", tmp_path)
    with kit.ctx.db.write() as session:
        enqueue(session, WebhookEvent.EMERGENCY, {"run": 1})
    admin.remove_webhook(kit.ctx, gone.id)
    assert [h.url for h in admin.list_webhooks(kit.ctx)] == ["http://127.0.0.1:9/kept"]
    assert [(d.webhook_id, d.event) for d in admin.deliveries(kit.ctx)] == [(gone.id + 1, "emergency")]


def test_a_url_is_shown_without_its_credentials() -> None:
    shown = admin.shown_url("https://bot:hunter2@chat.example/hooks/abc?token=s3cret&room=ops")
    assert shown == "https://bot:***@chat.example/hooks/abc?token=***&room=***"


def test_a_receiver_that_refuses_an_event_gets_it_again_later(kit: Kit, httpserver: HTTPServer, tmp_path: Path) -> None:
    def refuse(_request: Request) -> Response:
        return Response("no", status=404)

    httpserver.expect_request("/hook").respond_with_handler(refuse)
    hook(kit.ctx, httpserver.url_for("/hook"), tmp_path)
    with kit.ctx.db.write() as session:
        enqueue(session, WebhookEvent.EMERGENCY, {"run": 1})
    report = send_due(kit.ctx.db)
    assert report.failed == 1 and "HTTP 404" in report.failures[0]
    assert delivery_states(kit.ctx) == [("emergency", "pending", 1)]


def test_an_event_that_cannot_be_made_never_stops_a_run(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.engine.webhooks import outbox

    def broken(*_args: object) -> str:
        raise ValueError("a bug while building the body")

    hook(kit.ctx, "http://127.0.0.1:9/hook", tmp_path)
    monkeypatch.setattr(outbox, "cloud_event_body", broken)
    assert kit.publish(kit.bundle("Orders")).status == "succeeded"
    assert delivery_states(kit.ctx) == []
