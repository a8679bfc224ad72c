"""The audit log: who did what to the environment, when, and how it ended; writing and reading it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.context import EnvironmentContext
from app.engine.errors import DeployCenterError
from app.engine.identity import current_user, iso, utcnow
from app.engine.store.models import AuditRow


def audit(session: Session, operation: str, target: str, result: str, detail: str | None = None) -> None:
    session.add(
        AuditRow(at=utcnow(), who=current_user(), operation=operation, target=target, result=result, detail=detail)
    )


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
    at: datetime
    who: str
    operation: str
    target: str
    result: str
    detail: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "who": self.who,
            "operation": self.operation,
            "target": self.target,
            "result": self.result,
            "detail": self.detail,
        }


def audit_entries(ctx: EnvironmentContext, limit: int = 100) -> list[AuditEntry]:
    """The newest entries of the audit log: every operation, who did it, and how it ended."""
    with ctx.db.read() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
        return [AuditEntry(r.at, r.who, r.operation, r.target, r.result, r.detail) for r in rows]
