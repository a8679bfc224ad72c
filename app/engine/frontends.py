"""The environment's front-ends as plain values, read without the rest of the deploy machinery."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.store.models import FrontendRow


@dataclass(frozen=True)
class Frontend:
    id: int
    name: str
    path: Path


def frontends_of_session(session: Session) -> list[Frontend]:
    rows = session.scalars(select(FrontendRow).order_by(FrontendRow.id))
    return [Frontend(row.id, row.name, Path(row.path)) for row in rows]
