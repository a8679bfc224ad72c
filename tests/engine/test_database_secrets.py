"""What the database layer lets out of an error: never the values of the statement."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.engine.store.database import Database, default_url


def test_an_unexpected_database_error_does_not_carry_the_values(tmp_path: Path) -> None:
    db = Database(default_url(tmp_path))
    try:
        with db.write() as session:
            session.execute(text("CREATE TABLE vault (secret TEXT UNIQUE)"))
        with pytest.raises(IntegrityError) as caught, db.write() as session:
            for _ in range(2):
                session.execute(text("INSERT INTO vault VALUES (:value)"), {"value": "hunter2"})
    finally:
        db.dispose()
    assert "UNIQUE" in str(caught.value)
    assert "hunter2" not in str(caught.value)
