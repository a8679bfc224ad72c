"""The audit log: who did what to the environment, when, and how it ended."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from app.engine.context import EnvironmentContext
from app.engine.errors import DeployCenterError
from app.engine.identity import current_user, utcnow
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
