"""The audit log's hash chain: what each entry's hash covers, and checking a whole log against it.

Every entry records the hash of the entry before it (``prev_sha256``; the first one records
``GENESIS``) and its own: the sha256 of that previous hash, a newline, and the entry's canonical
form, a compact JSON array of its id, time (UTC, to the microsecond), who, operation, target,
result and detail. Changing any field of an entry, removing one or moving one breaks the chain
at the first entry concerned. Someone who can rewrite the whole table can rewrite the whole
chain too, so the last entry's id and hash (the head) is published outside the database; a head
kept elsewhere is checked to be still in the chain, which also finds a cut-off tail.

Nothing here touches the database: ``verify_chain`` reads any iterable of rows, one at a time,
so a log of millions of entries is checked in constant memory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import NamedTuple

from app.engine.errors import BadInputError

GENESIS = "0" * 64
_HEAD = re.compile(r"^([1-9][0-9]*):([0-9a-fA-F]{64})$")


class ChainRow(NamedTuple):
    """An audit entry as the chain sees it (the columns of ``audit_log``, in order)."""

    id: int
    at: datetime
    who: str
    operation: str
    target: str
    result: str
    detail: str | None
    prev_sha256: str | None
    sha256: str | None


@dataclass(frozen=True)
class Head:
    """The last entry's id and hash, as ``audit verify`` prints it and webhook events carry it."""

    id: int
    sha256: str

    def __str__(self) -> str:
        return f"{self.id}:{self.sha256}"

    @classmethod
    def parse(cls, text: str) -> Head:
        match = _HEAD.match(text.strip())
        if match is None:
            raise BadInputError(f"a head is ID:SHA256 (as 'audit verify' prints it), not {text!r}")
        return cls(int(match.group(1)), match.group(2).lower())


def at_text(at: datetime) -> str:
    """The time an entry's hash covers: UTC, ISO 8601, to the microsecond, without an offset."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def entry_hash(
    prev_sha256: str,
    entry_id: int,
    at: datetime,
    who: str,
    operation: str,
    target: str,
    result: str,
    detail: str | None,
) -> str:
    """The hash of one entry chained to ``prev_sha256``."""
    canonical = canonical_entry(entry_id, at, who, operation, target, result, detail)
    return hashlib.sha256(f"{prev_sha256}\n{canonical}".encode()).hexdigest()


def canonical_entry(
    entry_id: int, at: datetime, who: str, operation: str, target: str, result: str, detail: str | None
) -> str:
    """The compact JSON array of an entry's fields, non-ASCII kept as it is: exactly what
    ``json.dumps([...], ensure_ascii=False, separators=(",", ":"))`` writes, built from the
    encoder's own string quoting, since a million calls of ``json.dumps`` cost seconds."""
    q = encode_basestring
    tail = "null" if detail is None else q(detail)
    return f"[{int(entry_id)},{q(at_text(at))},{q(who)},{q(operation)},{q(target)},{q(result)},{tail}]"


def row_hash(row: ChainRow, prev_sha256: str) -> str:
    return entry_hash(prev_sha256, row.id, row.at, row.who, row.operation, row.target, row.result, row.detail)


@dataclass(frozen=True)
class ChainReport:
    """What checking the chain found: ``broken_at`` is None when it holds from first to last."""

    entries: int
    head: Head | None
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None and self.problem is None


def verify_chain(rows: Iterable[ChainRow], expected_head: Head | None = None) -> ChainReport:
    """Walk ``rows`` in id order; stop at the first entry that was changed, removed or moved.

    An entry that does not follow the one before it is told apart from a changed one by its own
    hash: an entry intact in itself that follows something else means the entries before it were
    removed (when ids are missing there) or that the one before it was replaced. ``expected_head``,
    a head kept elsewhere, must then be one of the entries walked, with the same hash.
    """
    previous: ChainRow | None = None
    count = 0
    kept_sha256: str | None = None  # the hash found at expected_head's id
    for row in rows:
        expected_prev = previous.sha256 if previous is not None else GENESIS
        intact = row.sha256 is not None and row.prev_sha256 is not None and row_hash(row, row.prev_sha256) == row.sha256
        if row.prev_sha256 != expected_prev or not intact:
            broken_at, problem = _break(previous, row, intact)
            return ChainReport(count, _head_of(previous), broken_at, problem)
        if expected_head is not None and row.id == expected_head.id:
            kept_sha256 = row.sha256
        previous = row
        count += 1
    head = _head_of(previous)
    if expected_head is not None:
        missing = _head_problem(expected_head, head, kept_sha256)
        if missing is not None:
            return ChainReport(count, head, expected_head.id, missing)
    return ChainReport(count, head)


def _break(previous: ChainRow | None, row: ChainRow, intact: bool) -> tuple[int, str]:
    if not intact:
        return row.id, f"entry {row.id} was changed or moved: it no longer matches its hash"
    if previous is None:
        # The log starts at entry 1; an intact entry that does not start the chain lost those before it.
        return min(row.id, 1), f"the entries before entry {row.id} were removed: it does not start the chain"
    if row.id > previous.id + 1:
        gone = str(previous.id + 1) if row.id == previous.id + 2 else f"{previous.id + 1} to {row.id - 1}"
        return previous.id + 1, f"entry {gone} was removed: entry {row.id} does not follow entry {previous.id}"
    return previous.id, f"entry {previous.id} was changed: entry {row.id} was chained to another entry {previous.id}"


def _head_problem(expected: Head, head: Head | None, kept_sha256: str | None) -> str | None:
    """Why the head kept elsewhere is not in the chain just walked, None when it is."""
    if head is None or expected.id > head.id:
        last = f"after entry {head.id}" if head is not None else "before its first entry"
        return f"entry {expected.id} of the head kept elsewhere is missing: the log was cut off {last}"
    if kept_sha256 is None:
        return f"entry {expected.id} of the head kept elsewhere is not in the log"
    if kept_sha256 != expected.sha256:
        return f"entry {expected.id} differs from the head kept elsewhere: the log was rewritten from there on"
    return None


def _head_of(row: ChainRow | None) -> Head | None:
    return None if row is None or row.sha256 is None else Head(row.id, row.sha256)
