"""Queues messages and hands them to the SMTP relay in batches."""

from collections import deque
from dataclasses import dataclass

MAX_ATTEMPTS = 5


@dataclass
class OutgoingMessage:
    recipient: str
    subject: str
    body_html: str
    attempts: int = 0


class MailQueue:
    def __init__(self, send):
        self._send = send
        self._pending = deque()
        self.dead_letters = []

    def enqueue(self, message):
        if "@" not in message.recipient:
            raise ValueError(f"not an e-mail address: {message.recipient!r}")
        self._pending.append(message)

    def flush(self, batch_size=20):
        """Send up to batch_size messages; failed ones go back in line or to dead letters."""
        sent = 0
        for _ in range(min(batch_size, len(self._pending))):
            message = self._pending.popleft()
            try:
                self._send(message)
                sent += 1
            except OSError:
                message.attempts += 1
                target = self.dead_letters if message.attempts >= MAX_ATTEMPTS else self._pending
                target.append(message)
        return sent
