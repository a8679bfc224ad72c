"""Reading the whole audit log as a stream: checking its hash chain, and exporting it.

Both read the entries in id order through one cursor, a batch at a time (a server-side cursor
on PostgreSQL, SQLite's own stepping cursor), so a log of millions of entries costs the same
memory as a log of ten. Exports mask secret values the way every other output does.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Generator, Iterator
from contextlib import closing
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import DateTime, select, type_coerce

from app.engine.audit_chain import ChainReport, ChainRow, Head, verify_chain
from app.engine.context import EnvironmentContext
from app.engine.errors import BadInputError
from app.engine.secret_keys import mask_assignments
from app.engine.store.models import AuditRow

# Rows fetched from the cursor at once: large enough to amortize each fetch, small enough to not matter.
STREAM_BATCH = 2000
EXPORT_COLUMNS = ("id", "at", "who", "operation", "target", "result", "detail", "prev_sha256", "sha256")
ExportFormat = Literal["jsonl", "csv"]
# One encoder for every line: json.dumps with options builds a new one per call.
_JSON_LINE = json.JSONEncoder(ensure_ascii=False)
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("jsonl", "csv")

_CHAIN_COLUMNS = (
    AuditRow.id,
    # The stored time as it is (UTC, naive): the hash covers that, and a million entries need not
    # each be made aware and converted back.
    type_coerce(AuditRow.at, DateTime()).label("at"),
    AuditRow.who,
    AuditRow.operation,
    AuditRow.target,
    AuditRow.result,
    AuditRow.detail,
    AuditRow.prev_sha256,
    AuditRow.sha256,
)


def _rows(ctx: EnvironmentContext, since: datetime | None = None) -> Generator[ChainRow]:
    query = select(*_CHAIN_COLUMNS).order_by(AuditRow.id).execution_options(yield_per=STREAM_BATCH)
    if since is not None:
        query = query.where(AuditRow.at >= since)
    with ctx.db.read() as session:
        # Core, not the ORM: plain rows, a batch at a time, without the ORM's work per row.
        result = session.connection().execute(query)
        try:
            for rows in result.partitions():
                for row in rows:
                    yield ChainRow(*row)
        finally:
            result.close()  # a server-side cursor left by a reader that stopped early


def verify_log(ctx: EnvironmentContext, expected_head: Head | None = None) -> ChainReport:
    """Check the whole chain, and that ``expected_head`` (kept elsewhere) is still in it."""
    with closing(_rows(ctx)) as rows:
        return verify_chain(rows, expected_head)


def parse_since(text: str) -> datetime:
    """``--since``: an ISO 8601 date or date-time; one without an offset is UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError(f"--since takes an ISO 8601 date or date-time such as 2026-12-01, not {text!r}") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def export_log(ctx: EnvironmentContext, form: ExportFormat, since: datetime | None = None) -> Iterator[str]:
    """Every entry (at or after ``since``) as text chunks: JSON lines, or CSV with a header."""
    if form == "csv":
        yield from _csv_chunks(_masked(ctx, since))
    else:
        yield from _jsonl_chunks(_masked(ctx, since))


def _masked(ctx: EnvironmentContext, since: datetime | None) -> Iterator[dict[str, object]]:
    for row in _rows(ctx, since):
        yield {
            "id": row.id,
            "at": row.at.replace(tzinfo=UTC).isoformat(timespec="microseconds"),
            "who": row.who,
            "operation": row.operation,
            "target": mask_assignments(row.target),
            "result": row.result,
            "detail": None if row.detail is None else mask_assignments(row.detail),
            "prev_sha256": row.prev_sha256,
            "sha256": row.sha256,
        }


def _jsonl_chunks(entries: Iterator[dict[str, object]]) -> Iterator[str]:
    lines: list[str] = []
    for entry in entries:
        lines.append(_JSON_LINE.encode(entry))
        if len(lines) == STREAM_BATCH:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"


def _csv_chunks(entries: Iterator[dict[str, object]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for count, entry in enumerate(entries, 1):
        writer.writerow(entry)
        if count % STREAM_BATCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
