"""Recording events to send: in the writer transaction of what they report, or not at all.

An event is one row holding its CloudEvents 1.0 body exactly as every try will post it (so the
``id``, the time and the signature never change between tries), and one delivery row per
webhook that asked for that event. It commits or rolls back with the run or plan it reports:
a crash after the commit loses nothing (the next process sends it), a crash before it leaves
no event about something that did not happen. Nothing is written when no webhook wants it.

Run events (recorded by ``runs.records``) carry the run as ``runs --json`` shows it. Change
control records ``approval-needed`` and ``emergency`` the same way, with ``enqueue(session,
WebhookEvent.APPROVAL_NEEDED, data)`` in its own writer transaction. Every event carries the
audit log's head at the time it was recorded (``audit_head``, ``ID:SHA256``), which publishes
the head outside the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.engine.audit import chain_head
from app.engine.errors import BadInputError
from app.engine.identity import utcnow
from app.engine.store.database import is_writer, leave_note
from app.engine.store.models import EnvironmentRow, WebhookDeliveryRow, WebhookEventRow, WebhookRow

TYPE_PREFIX = "org.deploycenter."
# Told to ``Database.on_commit`` listeners: a sender has something new to send.
EVENTS_QUEUED = "webhook-events-queued"
PENDING = "pending"


class WebhookEvent(StrEnum):
    """The events a webhook may ask for (``webhook add --events``)."""

    RUN_STARTED = "run-started"
    RUN_FINISHED = "run-finished"
    RUN_FAILED = "run-failed"
    APPROVAL_NEEDED = "approval-needed"
    EMERGENCY = "emergency"


# Sent only by ``webhook test`` to the webhook tested; no webhook subscribes to it.
PING = "ping"


def parse_events(text: str) -> tuple[WebhookEvent, ...]:
    """``--events E,...``: known names, each once, in the order given."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {event.value: event for event in WebhookEvent}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        listed = ", ".join(known)
        raise BadInputError(f"unknown webhook event {', '.join(unknown) or repr(text)}; events are: {listed}")
    return tuple(dict.fromkeys(known[name] for name in names))


def wants(events: str | None, event: str) -> bool:
    """Whether a webhook subscribed to ``events`` (stored joined by ","; None: all) gets ``event``."""
    return events is None or event in events.split(",")


def enqueue(
    session: Session,
    event: WebhookEvent | str,
    data: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    *,
    subject: str | None = None,
    webhook_ids: tuple[int, ...] | None = None,
) -> str | None:
    """Record ``event`` for every webhook that wants it, in this writer transaction; its id, or None.

    ``data`` holds JSON values (or is a function that reads them, called only when some webhook
    wants the event); ``audit_head`` is added. ``webhook_ids`` limits the receivers (a ping goes
    to one webhook only).
    """
    if not is_writer(session):
        raise RuntimeError("webhook events are recorded only in a writer transaction (Database.write)")
    name = str(event)
    if name != PING and name not in {e.value for e in WebhookEvent}:
        raise ValueError(f"not a webhook event: {name}")
    receivers = [
        hook_id
        for hook_id, events in session.execute(select(WebhookRow.id, WebhookRow.events).order_by(WebhookRow.id))
        if (webhook_ids is None and wants(events, name)) or (webhook_ids is not None and hook_id in webhook_ids)
    ]
    if not receivers:
        return None
    values = dict(data() if callable(data) else data)
    head = chain_head(session)
    values["audit_head"] = None if head is None else str(head)
    now = utcnow()
    event_id = str(uuid.uuid4())
    body = cloud_event_body(event_id, name, source_of(session), now, values, subject)
    session.add(WebhookEventRow(id=event_id, type=name, created_at=now, body=body))
    session.flush()
    session.execute(
        insert(WebhookDeliveryRow),
        [
            {"event_id": event_id, "webhook_id": hook_id, "state": PENDING, "attempts": 0, "next_try_at": now}
            for hook_id in receivers
        ],
    )
    leave_note(session, EVENTS_QUEUED)
    return event_id


def cloud_event_body(
    event_id: str, name: str, source: str, at: datetime, data: Mapping[str, Any], subject: str | None
) -> str:
    """The structured-mode CloudEvents 1.0 JSON document, as the SDK writes it."""
    from cloudevents.core.bindings.http import to_structured_event
    from cloudevents.core.v1.event import CloudEvent

    attributes: dict[str, Any] = {
        "id": event_id,
        "source": source,
        "type": TYPE_PREFIX + name,
        "specversion": "1.0",
        "time": at,
        "datacontenttype": "application/json",
    }
    if subject:
        attributes["subject"] = subject
    message = to_structured_event(CloudEvent(attributes, dict(data)))
    return message.body.decode("utf-8")


def source_of(session: Session) -> str:
    """The events' ``source``: this environment, by the id stamped on its front-ends."""
    env = session.get(EnvironmentRow, 1)
    if env is None:
        return "urn:deploycenter"
    return f"urn:deploycenter:{env.uid or env.name}"
