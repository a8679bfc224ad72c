"""The audit log: who did what to the environment, when, and how it ended; writing and reading it.

Every entry is appended by ``audit``, chained to the entry before it by hash (``audit_chain``).
The append reads the last entry and writes the next one inside a writer transaction
(``Database.write``), which serializes every writer of the environment, processes and machines
alike: two appends can never both follow the same entry, so the chain never forks. ``audit``
refuses any other session rather than risk it, and the explicit ids make a second entry with
the same id fail on the primary key even if that rule were broken.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from app.engine.audit_chain import GENESIS, Head, entry_hash
from app.engine.context import EnvironmentContext
from app.engine.errors import DeployCenterError
from app.engine.identity import current_user, iso, utcnow
from app.engine.secret_keys import mask_assignments
from app.engine.store.database import is_writer
from app.engine.store.models import AuditRow


def audit(session: Session, operation: str, target: str, result: str, detail: str | None = None) -> None:
    """Append one entry to the chain; ``session`` must be a writer's (``Database.write``)."""
    if not is_writer(session):
        raise RuntimeError("audit entries are appended only in a writer transaction (Database.write)")
    head = chain_head(session)
    entry_id, prev = (head.id + 1, head.sha256) if head is not None else (1, GENESIS)
    at, who = utcnow(), current_user()
    operation, target, result = str(operation), str(target), str(result)
    sha = entry_hash(prev, entry_id, at, who, operation, target, result, detail)
    session.execute(
        insert(AuditRow).values(
            id=entry_id,
            at=at,
            who=who,
            operation=operation,
            target=target,
            result=result,
            detail=detail,
            prev_sha256=prev,
            sha256=sha,
        )
    )


def chain_head(session: Session) -> Head | None:
    """The last entry's id and hash, None while the log is empty."""
    row = session.execute(select(AuditRow.id, AuditRow.sha256).order_by(AuditRow.id.desc()).limit(1)).first()
    return None if row is None else Head(row.id, row.sha256)


def audit_failure(ctx: EnvironmentContext, operation: str, target: str, error: DeployCenterError) -> None:
    """Record a refused or failed operation; never hides the original error."""
    try:
        with ctx.db.write() as session:
            audit(session, operation, target, "refused" if error.exit_code == 3 else "failed", error.message)
    except DeployCenterError:
        pass


@contextmanager
def audited(ctx: EnvironmentContext, operation: str, target: str) -> Iterator[None]:
    """Record in the audit log an operation that is refused or fails, then let the error go on."""
    try:
        yield
    except DeployCenterError as error:
        audit_failure(ctx, operation, target, error)
        raise


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    who: str
    operation: str
    target: str
    result: str
    detail: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "who": self.who,
            "operation": self.operation,
            "target": self.target,
            "result": self.result,
            "detail": self.detail,
        }


def audit_entries(
    ctx: EnvironmentContext, limit: int = 100, *, search: str | None = None, operation: str | None = None
) -> list[AuditEntry]:
    """The newest entries of the audit log, those whose text holds ``search`` and of ``operation``;
    secret values masked, as in every output."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if operation:
        query = query.where(AuditRow.operation == operation)
    if search:
        # The user's text is searched as it is: % and _ are not wildcards here.
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        columns = (AuditRow.who, AuditRow.operation, AuditRow.target, AuditRow.result, AuditRow.detail)
        query = query.where(or_(*(column.ilike(pattern, escape="\\") for column in columns)))
    with ctx.db.read() as session:
        rows = session.scalars(query)
        return [
            AuditEntry(
                r.id,
                r.at,
                r.who,
                r.operation,
                mask_assignments(r.target),
                r.result,
                None if r.detail is None else mask_assignments(r.detail),
            )
            for r in rows
        ]
