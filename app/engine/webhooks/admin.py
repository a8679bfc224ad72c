"""Managing webhooks: add, list, remove, test (a ping sent at once), and the deliveries' history.

Input is checked before anything is written, so bad input stores nothing, not even an audit
entry. A webhook's secret is read once from its file when the webhook is added and is kept in
the database only (a private file, like the configurations' secrets); it is never shown: a
webhook is listed as signed or not. URLs are shown with any password and query values masked,
since receivers often take their credentials there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import delete, exists, func, select

from app.engine.audit import audit, audited
from app.engine.context import EnvironmentContext
from app.engine.errors import BadInputError
from app.engine.identity import current_user, iso, utcnow
from app.engine.secret_keys import MASK
from app.engine.store.models import WebhookDeliveryRow, WebhookEventRow, WebhookRow
from app.engine.webhooks.outbox import PENDING, PING, WebhookEvent, enqueue

MAX_SECRET_BYTES = 4096


@dataclass(frozen=True)
class LastTry:
    event: str
    state: str
    at: datetime | None
    result: str | None

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "state": self.state, "at": iso(self.at), "result": self.result}


@dataclass(frozen=True)
class Webhook:
    id: int
    url: str  # as it may be shown (masked)
    events: tuple[str, ...]
    signed: bool
    created_at: datetime
    created_by: str
    last: LastTry | None

    @property
    def every_event(self) -> bool:
        return set(self.events) == {e.value for e in WebhookEvent}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "signed": self.signed,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "last_delivery": None if self.last is None else self.last.to_json(),
        }


@dataclass(frozen=True)
class Delivery:
    """One event for one webhook, as ``webhook deliveries`` shows it."""

    id: int
    webhook_id: int
    url: str
    event_id: str
    event: str
    state: str
    attempts: int
    recorded_at: datetime
    last_try_at: datetime | None
    last_result: str | None
    next_try_at: datetime | None  # while pending

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "webhook": self.webhook_id,
            "url": self.url,
            "event_id": self.event_id,
            "event": self.event,
            "state": self.state,
            "attempts": self.attempts,
            "recorded_at": iso(self.recorded_at),
            "last_try_at": iso(self.last_try_at),
            "last_result": self.last_result,
            "next_try_at": iso(self.next_try_at),
        }


def shown_url(url: str) -> str:
    """``url`` without what may be a credential: its password and its query's values."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username}:{MASK}@{netloc.rpartition('@')[2]}"
    query = urlencode([(key, MASK) for key, _value in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def checked_url(url: str) -> str:
    """A URL a webhook may post to: http or https, with a host."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in text):
        raise BadInputError(f"a webhook URL is http:// or https:// with a host, not {shown_url(text)!r}")
    return text


def read_secret(path: Path) -> str:
    """The secret in ``path`` (one line; a final newline is not part of it)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInputError(f"cannot read the secret file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_SECRET_BYTES:
        raise BadInputError(f"the secret file {path} holds more than {MAX_SECRET_BYTES} bytes; is it the right file?")
    try:
        secret = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise BadInputError(f"the secret file {path} is not UTF-8 text") from None
    if not secret.strip():
        raise BadInputError(f"the secret file {path} is empty")
    return secret


def add_webhook(
    ctx: EnvironmentContext,
    url: str,
    secret_file: Path | None = None,
    events: tuple[WebhookEvent, ...] | None = None,
) -> Webhook:
    """Add a receiver of ``events`` (None: all); its secret, if any, read once from ``secret_file``."""
    target = checked_url(url)
    secret = read_secret(secret_file) if secret_file is not None else None
    stored_events = None if events is None or set(events) == set(WebhookEvent) else ",".join(events)
    with audited(ctx, "webhook-add", shown_url(target)), ctx.db.write() as session:
        row = WebhookRow(
            url=target, secret=secret, events=stored_events, created_at=utcnow(), created_by=current_user()
        )
        session.add(row)
        session.flush()
        detail = f"{shown_url(target)}; events: {stored_events or 'all'}; {'signed' if secret else 'unsigned'}"
        audit(session, "webhook-add", f"webhook {row.id}", "done", detail)
        return _view(row, None)


def remove_webhook(ctx: EnvironmentContext, webhook_id: int) -> None:
    """Forget a webhook and the deliveries still waiting for it; what was sent stays in the audit log."""
    with audited(ctx, "webhook-remove", f"webhook {webhook_id}"), ctx.db.write() as session:
        row = session.get(WebhookRow, webhook_id)
        if row is None:
            raise BadInputError(f"there is no webhook {webhook_id} (see 'webhook list')")
        session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.webhook_id == webhook_id))
        session.delete(row)
        orphans = ~exists().where(WebhookDeliveryRow.event_id == WebhookEventRow.id)
        session.execute(delete(WebhookEventRow).where(orphans))
        audit(session, "webhook-remove", f"webhook {webhook_id}", "done", shown_url(row.url))


def queue_ping(ctx: EnvironmentContext, webhook_id: int) -> int:
    """Record a ping for one webhook; the id of its delivery, to send at once."""
    with ctx.db.write() as session:
        if session.get(WebhookRow, webhook_id) is None:
            raise BadInputError(f"there is no webhook {webhook_id} (see 'webhook list')")
        event_id = enqueue(
            session,
            PING,
            {"message": "a test event from Deploy Center", "webhook": webhook_id},
            subject=f"webhook {webhook_id}",
            webhook_ids=(webhook_id,),
        )
        delivery = session.scalar(select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.event_id == event_id))
        assert delivery is not None
        return delivery


def list_webhooks(ctx: EnvironmentContext) -> list[Webhook]:
    with ctx.db.read() as session:
        newest = (
            select(func.max(WebhookDeliveryRow.id))
            .where(WebhookDeliveryRow.webhook_id == WebhookRow.id)
            .correlate(WebhookRow)
            .scalar_subquery()
        )
        rows = session.execute(
            select(WebhookRow, WebhookDeliveryRow, WebhookEventRow.type)
            .outerjoin(WebhookDeliveryRow, WebhookDeliveryRow.id == newest)
            .outerjoin(WebhookEventRow, WebhookEventRow.id == WebhookDeliveryRow.event_id)
            .order_by(WebhookRow.id)
        ).all()
        return [
            _view(hook, None if last is None else LastTry(event_type, last.state, last.last_try_at, last.last_result))
            for hook, last, event_type in rows
        ]


def deliveries(ctx: EnvironmentContext, limit: int = 50, webhook_id: int | None = None) -> list[Delivery]:
    """The newest deliveries first: each event for each webhook, and how its tries went."""
    query = (
        select(WebhookDeliveryRow, WebhookEventRow.type, WebhookEventRow.created_at, WebhookRow.url)
        .join(WebhookEventRow, WebhookEventRow.id == WebhookDeliveryRow.event_id)
        .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)
        .order_by(WebhookDeliveryRow.id.desc())
        .limit(limit)
    )
    if webhook_id is not None:
        query = query.where(WebhookDeliveryRow.webhook_id == webhook_id)
    with ctx.db.read() as session:
        return [
            Delivery(
                d.id,
                d.webhook_id,
                shown_url(url),
                d.event_id,
                event_type,
                d.state,
                d.attempts,
                recorded_at,
                d.last_try_at,
                d.last_result,
                d.next_try_at if d.state == PENDING else None,
            )
            for d, event_type, recorded_at, url in session.execute(query)
        ]


def _view(row: WebhookRow, last: LastTry | None) -> Webhook:
    events = tuple(e.value for e in WebhookEvent) if row.events is None else tuple(row.events.split(","))
    return Webhook(row.id, shown_url(row.url), events, row.secret is not None, row.created_at, row.created_by, last)
