"""Opening an environment's database: engine settings, sessions and automatic migrations.

An SQLite file is private to its owner: created ``0600`` (SQLite gives its ``-wal`` and ``-shm``
files the same mode), and tightened to that when found looser and ours. Before the first
connection its header is checked, which costs one read of 100 bytes and catches a file that is
not a database or was cut short; damage deeper in the file surfaces as an error of the query that
meets it, and every such error leaves here as one ``StateError`` line naming the file. A file in a
folder this process cannot write is opened read-only, so that the views still work there.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.engine.errors import BadInputError, DeployCenterError, Refusal, RefusedError, StateError

# Re-exported: callers found these names here before the SQLite file helpers had a module of their own.
from app.engine.store.revisions import MIGRATIONS_DIR as MIGRATIONS_DIR
from app.engine.store.sqlite_file import DATABASE_FILE as DATABASE_FILE
from app.engine.store.sqlite_file import RESTORE_ADVICE as RESTORE_ADVICE
from app.engine.store.sqlite_file import busy_timeout_seconds, prepare_sqlite_file, read_only_connector, writable
from app.engine.store.sqlite_file import default_url as default_url

log = logging.getLogger(__name__)

# What a writer transaction tells the listeners of ``Database.on_commit`` once it committed.
CommitListener = Callable[[frozenset[str]], None]
_NOTES = "deploycenter_notes"

# PostgreSQL advisory lock that every writer transaction takes first (any fixed number works:
# advisory locks are per database, and a database holds one environment).
WRITER_LOCK_KEY = 0x4443_5752  # "DCWR"


class Database:
    """One environment database. Sessions are short; writers serialize on the database itself.

    SQLite writes start with ``BEGIN IMMEDIATE`` so that two processes checking and taking locks
    cannot interleave. PostgreSQL writers take one transaction-scoped advisory lock first, the same
    one-writer-at-a-time rule: it also covers writers that run before the environment row exists
    (migrations, ``init``) and ones that do not lock that row (run history batches, audit entries).
    On both, a writer waits at most ``busy_timeout_seconds`` and then fails with one line. Readers
    see one snapshot for the whole session on both (SQLite's WAL read transaction; REPEATABLE READ).
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        """``create``: make the SQLite file when it is missing (else ``StateError``, nothing made)."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise BadInputError(f"invalid database URL {url!r}: {exc}") from None
        self.url = parsed
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        database = parsed.database if self.is_sqlite else None
        # The SQLite file, None for PostgreSQL and in-memory databases.
        self.path: Path | None = Path(database).absolute() if database and database != ":memory:" else None
        self.read_only = self.path is not None and not writable(self.path)
        if self.path is not None:
            prepare_sqlite_file(self.path, self.read_only, create=create)
        self.engine = self._create_engine()
        readers = self.engine
        if parsed.get_backend_name() == "postgresql":
            readers = self.engine.execution_options(isolation_level="REPEATABLE READ")
        self._sessions = sessionmaker(readers, expire_on_commit=False)
        self._writer_sessions = sessionmaker(
            self.engine.execution_options(deploycenter_write=True), expire_on_commit=False
        )
        self._commit_listeners: list[CommitListener] = []

    def _create_engine(self) -> Engine:
        timeout = busy_timeout_seconds()
        if not self.is_sqlite:
            from app.engine.store.models import add_postgresql_options

            add_postgresql_options()
            try:
                engine = create_engine(self.url, pool_pre_ping=True, pool_size=8, max_overflow=8, hide_parameters=True)
            except Exception as exc:  # a missing driver is bad input, not a crash
                raise BadInputError(f"cannot use database URL: {exc}") from None
            if self.url.get_backend_name() == "postgresql":
                _serialize_postgres_writers(engine, timeout)
            return engine
        options: dict[str, Any] = {"connect_args": {"timeout": timeout, "check_same_thread": False}}
        if self.read_only and self.path is not None:
            options = {"creator": read_only_connector(self.path, timeout)}
        # hide_parameters: values (configurations, secrets among them) stay out of error texts.
        engine = create_engine(self.url, hide_parameters=True, **options)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if not self.read_only:
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
        """A write transaction, serialized against every other writer of this environment.

        Once it committed, the notes it left (``leave_note``) go to the ``on_commit`` listeners.
        """
        with translate_db_errors(self), self._writer_sessions() as session:
            with session.begin():
                yield session
            notes = frozenset(session.info.get(_NOTES, ()))
        if notes:
            self._committed(notes)

    def on_commit(self, listener: CommitListener) -> None:
        """Call ``listener`` on the committing thread after each writer transaction that left notes."""
        self._commit_listeners.append(listener)

    def _committed(self, notes: frozenset[str]) -> None:
        for listener in list(self._commit_listeners):
            try:
                listener(notes)
            except Exception:  # what follows a commit never undoes it nor fails its caller
                log.exception("after a commit (%s)", ", ".join(sorted(notes)))

    def dispose(self) -> None:
        self.engine.dispose()

    def describe(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def file_or_url(self) -> str:
        """What error messages name: the SQLite file itself, else the URL without its password."""
        return str(self.path) if self.path is not None else self.describe()

    def check_integrity(self) -> list[str]:
        """The problems SQLite's ``PRAGMA integrity_check`` finds (at most 20), none when sound.

        Reads the whole file: 0.5 s for 100,000 modules (bench/RESULTS.md), so ``verify`` runs it
        and the other commands do not. PostgreSQL keeps its own checksums: nothing to check here.
        """
        if not self.is_sqlite:
            return []
        with translate_db_errors(self), self.engine.connect() as connection:
            rows = connection.exec_driver_sql("PRAGMA integrity_check(20)").all()
        lines = [line.strip() for row in rows for line in str(row[0]).splitlines()]
        problems = [line for line in lines if line and not line.startswith("***")]  # "*** in database main ***"
        return [] if problems == ["ok"] else problems


def is_writer(session: Session) -> bool:
    """Whether ``session`` came from ``Database.write``: its transaction holds the writer lock."""
    return bool(session.connection().get_execution_options().get("deploycenter_write"))


def leave_note(session: Session, note: str) -> None:
    """Tell the ``on_commit`` listeners, once this writer transaction commits, that ``note`` happened."""
    session.info.setdefault(_NOTES, set()).add(note)


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
    """Turn the database's lock, connection and damage errors into one clear line (no SQL)."""
    try:
        yield
    except DataError as exc:  # PostgreSQL enforces declared lengths (SQLite stores any length)
        raise BadInputError(f"a value does not fit the database {db.file_or_url()}: {_first_line(exc)}") from None
    except DBAPIError as exc:
        translated = database_error(db, exc)
        if translated is None:
            raise
        raise translated from None
    except sqlite3.DatabaseError as exc:  # raised by the driver outside a statement SQLAlchemy wraps
        translated = database_error(db, exc)
        if translated is None:
            raise
        raise translated from None


def database_error(db: Database, exc: BaseException) -> DeployCenterError | None:
    """The one-line error for a failure of the database itself, None for any other (a bug)."""
    orig = getattr(exc, "orig", None) or exc
    text = _first_line(exc)
    code = getattr(orig, "sqlite_errorname", "") or ""
    lock_timeout = getattr(orig, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE
    if lock_timeout or code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in text or "busy" in text:
        return RefusedError(
            f"the database {db.file_or_url()} is locked by another process "
            f"(waited {busy_timeout_seconds():g} s); try again when it is done",
            Refusal.LOCK,
        )
    if code.startswith("SQLITE_CORRUPT") or code == "SQLITE_NOTADB" or "malformed" in text:
        return StateError(f"the database {db.file_or_url()} is damaged ({text}); {RESTORE_ADVICE}")
    if code.startswith("SQLITE_READONLY"):
        return StateError(
            f"the database {db.file_or_url()} cannot be written ({text}); make it and its folder writable "
            "by this user to change anything (the read-only views work as they are)"
        )
    if code.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return StateError(
            f"cannot open the database {db.file_or_url()} ({text}); check that it and its folder "
            "exist and that this user may read them"
        )
    if code.startswith(("SQLITE_IOERR", "SQLITE_FULL", "SQLITE_PERM", "SQLITE_AUTH")):
        return StateError(f"cannot use the database {db.file_or_url()} ({text}); check its disk and permissions")
    if isinstance(exc, OperationalError) or isinstance(orig, sqlite3.OperationalError):
        return StateError(f"database error on {db.file_or_url()}: {text}")
    return None


def _first_line(exc: BaseException) -> str:
    """The driver's own message without SQLAlchemy's SQL, parameters and background link."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
