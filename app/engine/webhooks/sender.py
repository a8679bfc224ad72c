"""Sending what is due: one POST per try, signed, and a background thread that does it off the way.

Each try posts the event's stored body as it is (``Content-Type: application/cloudevents+json``),
with ``X-DeployCenter-Signature: sha256=<HMAC-SHA256 of the body>`` when the webhook has a
secret. A 2xx answer delivers it; anything else (another status, a refused connection, a time
limit) is a failed try, retried later (``deliveries``).

``BackgroundSender`` is what every command that opens the environment runs: a daemon thread that
sends what is due at once, again whenever a transaction records new events, and once more when
the command ends; the command waits for it at most ``EXIT_WAIT`` seconds. Whatever it does not
finish, the next process sends (a lease of a process that is gone is taken over at once): it
never delays a run by more than that moment, and none of its failures reaches the command.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from app import __version__
from app.engine.identity import utcnow
from app.engine.store.database import Database
from app.engine.webhooks.deliveries import (
    DEAD,
    DELIVERED,
    TRY_SECONDS,
    Claim,
    TryOutcome,
    anything_due,
    claim_due,
    next_due,
    record_try,
    release,
)
from app.engine.webhooks.outbox import EVENTS_QUEUED

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-DeployCenter-Signature"
CONTENT_TYPE = "application/cloudevents+json"
# How long a command waits at its end for the last sends; the rest goes to the next process.
EXIT_WAIT = 1.5
# The longest a window's sender sleeps before looking for due retries again.
IDLE_WAIT = 30.0


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the HMAC-SHA256 of the exact body, in hex."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post(client: httpx.Client, claim: Claim) -> TryOutcome:
    """One try: POST the stored body; never raises for what the network or the receiver does."""
    import httpx

    body = claim.body.encode("utf-8")
    headers = {"Content-Type": CONTENT_TYPE, "User-Agent": f"deploycenter/{__version__}"}
    if claim.secret:
        headers[SIGNATURE_HEADER] = signature(claim.secret, body)
    try:
        response = client.post(claim.url, content=body, headers=headers)
    except httpx.TimeoutException:
        return TryOutcome(False, f"no answer within {TRY_SECONDS:g} s")
    except httpx.HTTPError as exc:
        return TryOutcome(False, _first_line(exc) or type(exc).__name__)
    return TryOutcome(200 <= response.status_code < 300, f"HTTP {response.status_code}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def new_client() -> httpx.Client:
    import httpx

    return httpx.Client(timeout=httpx.Timeout(TRY_SECONDS, connect=min(5.0, TRY_SECONDS)), follow_redirects=False)


@dataclass
class SendReport:
    """What one pass did: tries delivered, failed (to be retried) and given up."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, claim: Claim, outcome: TryOutcome, state: str | None) -> None:
        if state == DELIVERED:
            self.delivered += 1
            return
        if state is None:
            return  # no longer ours: whoever took it over records it
        self.failed += 1
        self.dead += state == DEAD
        self.failures.append(f"{claim.url}: {claim.event_type} {claim.event_id}: {outcome.result}")


def send_due(
    db: Database,
    *,
    now: datetime | None = None,
    stop: threading.Event | None = None,
    delivery_ids: list[int] | None = None,
) -> SendReport:
    """Try every delivery due (``now``, or the clock), in batches, until none is left or ``stop`` is set."""
    report = SendReport()
    if delivery_ids is None and not anything_due(db, now):
        return report  # the usual case: no import of the HTTP client, no write
    with new_client() as client:
        while stop is None or not stop.is_set():
            claims = claim_due(db, now=now, delivery_ids=delivery_ids)
            if not claims:
                break
            for index, claim in enumerate(claims):
                if stop is not None and stop.is_set():
                    release(db, claims[index:])
                    break
                outcome = post(client, claim)
                report.add(claim, outcome, record_try(db, claim, outcome, now=now))
            if delivery_ids is not None:
                break  # those asked for were each tried once
    return report


class BackgroundSender:
    """A daemon thread sending what is due, woken by new events; ``finish`` waits only a moment."""

    def __init__(self, db: Database, *, idle_wait: float = IDLE_WAIT) -> None:
        self._db = db
        self._idle_wait = idle_wait
        self._wake = threading.Event()
        self._finishing = threading.Event()
        self._abandoned = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhook-sender", daemon=True)
        db.on_commit(self._on_commit)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def finish(self, wait: float = EXIT_WAIT) -> bool:
        """One last pass for what this process recorded, waited for at most ``wait`` seconds.

        Returns whether the thread ended; one still sending is abandoned: it stops after its
        current try and its other leases are given back (or taken over by the next process).
        """
        self._finishing.set()
        self._wake.set()
        if self._thread.ident is None:
            return True  # never started
        self._thread.join(wait)
        if self._thread.is_alive():
            self._abandoned.set()
            return False
        return True

    def _on_commit(self, notes: frozenset[str]) -> None:
        if EVENTS_QUEUED in notes:
            self._wake.set()

    def _loop(self) -> None:
        while not self._abandoned.is_set():
            last_pass = self._finishing.is_set()
            self._wake.clear()
            try:
                send_due(self._db, stop=self._abandoned)
            except Exception:  # a sender's trouble never reaches the command; the next one retries
                log.exception("sending webhook events")
            if last_pass:
                return
            self._wake.wait(self._sleep())

    def _sleep(self) -> float:
        try:
            due = next_due(self._db)
        except Exception:
            return self._idle_wait
        if due is None:
            return self._idle_wait
        return max(0.05, min(self._idle_wait, (due - utcnow()).total_seconds()))
