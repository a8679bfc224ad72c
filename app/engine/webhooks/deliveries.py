"""Which deliveries are due, who sends each try, and what happens after a try.

A sender claims due deliveries in a writer transaction by writing its lease on them (``LEASE``
long, naming its host and process); no other sender takes a leased delivery until the lease runs
out, or at once when the process holding it on this machine is gone. A try's outcome is recorded
only by the sender that still holds the lease, so two processes never send the same try and a
slow sender never overwrites a later one. A failed try waits longer each time (``retry_delay``:
10 s, doubling, at most an hour between tries) and the delivery is given up (``dead``) once its
event is a day old. Every ``now`` is a parameter, so the schedule is tested without waiting.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.engine.identity import host_name, process_alive, utcnow
from app.engine.store.database import Database
from app.engine.store.models import WebhookDeliveryRow, WebhookEventRow, WebhookRow
from app.engine.webhooks.outbox import PENDING

DELIVERED = "delivered"
DEAD = "dead"
FIRST_RETRY = timedelta(seconds=10)
LONGEST_WAIT = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(days=1)
# Longer than a claimed batch can take to send (CLAIM_BATCH tries of at most TRY_SECONDS each).
CLAIM_BATCH = 5
TRY_SECONDS = 10.0
LEASE = timedelta(seconds=CLAIM_BATCH * TRY_SECONDS + 30)


def retry_delay(failed_tries: int) -> timedelta:
    """The wait after the ``failed_tries``-th failed try: 10 s, 20 s, 40 s, ... at most an hour."""
    doublings = min(max(0, failed_tries - 1), 20)  # 2**20 times 10 s is far past the longest wait
    return min(FIRST_RETRY * (1 << doublings), LONGEST_WAIT)


def sender_name() -> str:
    """This process, as a lease names it."""
    return f"{host_name()}:{os.getpid()}"


@dataclass(frozen=True)
class Claim:
    """One try this process may send: everything the POST needs, and the lease it holds."""

    delivery_id: int
    event_id: str
    event_type: str
    event_created_at: datetime
    url: str
    secret: str | None
    body: str
    attempts: int  # tries before this one
    lease_owner: str
    lease_until: datetime


@dataclass(frozen=True)
class TryOutcome:
    delivered: bool
    result: str  # "HTTP 204", "HTTP 503", "connection refused", ...


def _lease_free(owner: str | None, until: datetime | None, now: datetime) -> bool:
    if owner is None or until is None or until <= now:
        return True
    host, _, pid = owner.rpartition(":")
    # A lease of a process of this machine that is gone need not run out first.
    return host == host_name() and pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid))


def anything_due(db: Database, now: datetime | None = None) -> bool:
    """A cheap read: whether some delivery waits for a try that this process may take now."""
    moment = now or utcnow()
    with db.read() as session:
        leases = session.execute(
            select(WebhookDeliveryRow.lease_owner, WebhookDeliveryRow.lease_until)
            .where(WebhookDeliveryRow.state == PENDING, WebhookDeliveryRow.next_try_at <= moment)
            .limit(CLAIM_BATCH * 4)
        ).all()
    return any(_lease_free(owner, until, moment) for owner, until in leases)


def claim_due(
    db: Database, *, now: datetime | None = None, limit: int = CLAIM_BATCH, delivery_ids: Sequence[int] | None = None
) -> list[Claim]:
    """Lease up to ``limit`` due deliveries to this process, oldest first (or those of ``delivery_ids``)."""
    moment = now or utcnow()
    owner = sender_name()
    until = moment + LEASE
    query = (
        select(WebhookDeliveryRow, WebhookEventRow, WebhookRow)
        .join(WebhookEventRow, WebhookEventRow.id == WebhookDeliveryRow.event_id)
        .join(WebhookRow, WebhookRow.id == WebhookDeliveryRow.webhook_id)
        .where(WebhookDeliveryRow.state == PENDING)
        .order_by(WebhookDeliveryRow.next_try_at, WebhookDeliveryRow.id)
    )
    if delivery_ids is not None:
        query = query.where(WebhookDeliveryRow.id.in_(list(delivery_ids)))
    else:
        query = query.where(WebhookDeliveryRow.next_try_at <= moment)
    claims: list[Claim] = []
    with db.write() as session:
        # A few more than wanted: some may be leased by another sender.
        for delivery, event, hook in session.execute(query.limit(limit * 4)):
            if len(claims) == limit:
                break
            if not _lease_free(delivery.lease_owner, delivery.lease_until, moment):
                continue
            delivery.lease_owner, delivery.lease_until = owner, until
            claims.append(
                Claim(
                    delivery.id,
                    event.id,
                    event.type,
                    event.created_at,
                    hook.url,
                    hook.secret,
                    event.body,
                    delivery.attempts,
                    owner,
                    until,
                )
            )
    return claims


def record_try(db: Database, claim: Claim, outcome: TryOutcome, *, now: datetime | None = None) -> str | None:
    """Record a try's outcome while the lease is still ours; the delivery's new state, or None if not ours."""
    moment = now or utcnow()
    with db.write() as session:
        delivery = session.get(WebhookDeliveryRow, claim.delivery_id, with_for_update=True)
        if delivery is None or delivery.lease_owner != claim.lease_owner or delivery.lease_until != claim.lease_until:
            return None  # removed, or our lease ran out and another sender took it over
        delivery.attempts = claim.attempts + 1
        delivery.last_try_at = moment
        delivery.last_result = outcome.result
        delivery.lease_owner = delivery.lease_until = None
        if outcome.delivered:
            delivery.state = DELIVERED
            delivery.delivered_at = moment
        elif moment - claim.event_created_at >= GIVE_UP_AFTER:
            delivery.state = DEAD
        else:
            delivery.next_try_at = moment + retry_delay(delivery.attempts)
        return delivery.state


def release(db: Database, claims: Sequence[Claim]) -> None:
    """Give back leases not used (a sender told to stop): the next sender need not wait for them."""
    if not claims:
        return
    with db.write() as session:
        for claim in claims:
            _release(session, claim)


def _release(session: Session, claim: Claim) -> None:
    session.execute(
        update(WebhookDeliveryRow)
        .where(
            WebhookDeliveryRow.id == claim.delivery_id,
            WebhookDeliveryRow.lease_owner == claim.lease_owner,
        )
        .values(lease_owner=None, lease_until=None)
    )


def next_due(db: Database, now: datetime | None = None) -> datetime | None:
    """When a pending delivery can next be tried (its time, or its lease's end), None when none waits."""
    moment = now or utcnow()
    with db.read() as session:
        rows = session.execute(
            select(WebhookDeliveryRow.next_try_at, WebhookDeliveryRow.lease_owner, WebhookDeliveryRow.lease_until)
            .where(WebhookDeliveryRow.state == PENDING)
            .order_by(WebhookDeliveryRow.next_try_at)
            .limit(CLAIM_BATCH * 4)
        ).all()
    times = [at if _lease_free(owner, until, moment) or until is None else max(at, until) for at, owner, until in rows]
    return min(times, default=None)
