"""Opening an environment's database: engine settings, sessions and automatic migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.engine.errors import BadInputError, RefusedError, StateError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DATABASE_FILE = "deploycenter.sqlite3"
# PostgreSQL advisory lock that every writer transaction takes first (any fixed number works:
# advisory locks are per database, and a database holds one environment).
WRITER_LOCK_KEY = 0x4443_5752  # "DCWR"


def busy_timeout_seconds() -> float:
    """How long a command waits for another process's write before giving up."""
    try:
        return float(os.environ.get("DEPLOYCENTER_BUSY_TIMEOUT", "15"))
    except ValueError:
        return 15.0


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / DATABASE_FILE}"


class Database:
    """One environment database. Sessions are short; writers serialize on the database itself.

    SQLite writes start with ``BEGIN IMMEDIATE`` so that two processes checking and taking locks
    cannot interleave. PostgreSQL writers take one transaction-scoped advisory lock first, the same
    one-writer-at-a-time rule: it also covers writers that run before the environment row exists
    (migrations, ``init``) and ones that do not lock that row (run history batches, audit entries).
    On both, a writer waits at most ``busy_timeout_seconds`` and then fails with one line. Readers
    see one snapshot for the whole session on both (SQLite's WAL read transaction; REPEATABLE READ).
    """

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise BadInputError(f"invalid database URL {url!r}: {exc}") from None
        self.url = parsed
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.engine = self._create_engine()
        readers = self.engine
        if parsed.get_backend_name() == "postgresql":
            readers = self.engine.execution_options(isolation_level="REPEATABLE READ")
        self._sessions = sessionmaker(readers, expire_on_commit=False)
        self._writer_sessions = sessionmaker(
            self.engine.execution_options(deploycenter_write=True), expire_on_commit=False
        )

    def _create_engine(self) -> Engine:
        timeout = busy_timeout_seconds()
        if not self.is_sqlite:
            from app.engine.store.models import add_postgresql_options

            add_postgresql_options()
            try:
                engine = create_engine(self.url, pool_pre_ping=True, pool_size=8, max_overflow=8)
            except Exception as exc:  # a missing driver is bad input, not a crash
                raise BadInputError(f"cannot use database URL: {exc}") from None
            if self.url.get_backend_name() == "postgresql":
                _serialize_postgres_writers(engine, timeout)
            return engine
        database = self.url.database
        if database and database != ":memory:":
            folder = Path(database).parent
            if not folder.is_dir():
                raise StateError(f"data folder {folder} does not exist")
        engine = create_engine(
            self.url,
            connect_args={"timeout": timeout, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            if connection.get_execution_options().get("deploycenter_write"):
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.exec_driver_sql("BEGIN")

        return engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session: sees one consistent snapshot, takes no write lock."""
        with translate_db_errors(self), self._sessions() as session:
            yield session
            session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, serialized against every other writer of this environment."""
        with translate_db_errors(self), self._writer_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()

    def describe(self) -> str:
        return self.url.render_as_string(hide_password=True)


def _serialize_postgres_writers(engine: Engine, timeout: float) -> None:
    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("deploycenter_write"):
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(timeout * 1000))}")
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")


# SQLSTATE of PostgreSQL's "canceling statement due to lock timeout".
_PG_LOCK_NOT_AVAILABLE = "55P03"


@contextmanager
def translate_db_errors(db: Database) -> Iterator[None]:
    """Turn the database's lock and connection failures into one clear line."""
    try:
        yield
    except DataError as exc:  # PostgreSQL enforces declared lengths (SQLite stores any length)
        text = str(exc.orig) if exc.orig is not None else str(exc)
        raise BadInputError(f"a value does not fit the database {db.describe()}: {text.splitlines()[0]}") from None
    except OperationalError as exc:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        lock_timeout = getattr(exc.orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE
        if lock_timeout or "locked" in text or "busy" in text:
            raise RefusedError(
                f"the database {db.describe()} is locked by another process "
                f"(waited {busy_timeout_seconds():g} s); try again when it is done"
            ) from None
        if "unable to open" in text:
            raise StateError(f"cannot open the database {db.describe()}: {text}") from None
        raise StateError(f"database error on {db.describe()}: {text.splitlines()[0]}") from None
