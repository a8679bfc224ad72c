"""The audit log: who did what to the environment, when, and how it ended."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.engine.identity import current_user, utcnow
from app.engine.store.models import AuditRow


def audit(session: Session, operation: str, target: str, result: str, detail: str | None = None) -> None:
    session.add(
        AuditRow(at=utcnow(), who=current_user(), operation=operation, target=target, result=result, detail=detail)
    )
