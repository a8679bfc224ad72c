"""The audit log's writer, and settling runs whose process died: what every command may need first.

Kept apart from ``operations`` so that read-only commands can use them without importing the
deploy machinery (compiler, deployer, process pool): their start-up time is most of a ``status``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.engine.runs import records
from app.engine.context import EnvironmentContext
from app.engine.identity import current_user, utcnow
from app.engine.store.models import AuditRow


def audit(session: Session, operation: str, target: str, result: str, detail: str | None = None) -> None:
    session.add(
        AuditRow(at=utcnow(), who=current_user(), operation=operation, target=target, result=result, detail=detail)
    )


def recover_stale_runs(ctx: EnvironmentContext) -> list[int]:
    """Mark runs whose process died as interrupted; takes the writer lock only when there is one."""
    with ctx.db.read() as session:
        if not records.has_stale_runs(session):
            return []
    with ctx.db.write() as session:
        records.serialize_writers(session)
        recovered = records.recover_stale_runs(session)
        for run_id in recovered:
            audit(session, "recover", f"run {run_id}", "interrupted")
        return recovered
