"""Opening an environment's database: engine settings, sessions and automatic migrations.

An SQLite file is private to its owner: created ``0600`` (SQLite gives its ``-wal`` and ``-shm``
files the same mode), and tightened to that when found looser and ours. Before the first
connection its header is checked, which costs one read of 100 bytes and catches a file that is
not a database or was cut short; damage deeper in the file surfaces as an error of the query that
meets it, and every such error leaves here as one ``StateError`` line naming the file. A file in a
folder this process cannot write is opened read-only, so that the views still work there.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DataError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.engine.errors import BadInputError, DeployCenterError, RefusedError, StateError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DATABASE_FILE = "deploycenter.sqlite3"
# PostgreSQL advisory lock that every writer transaction takes first (any fixed number works:
# advisory locks are per database, and a database holds one environment).
WRITER_LOCK_KEY = 0x4443_5752  # "DCWR"
SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_FILE_MODE = 0o600
RESTORE_ADVICE = "restore it from a backup, or move it away and run 'init' to start a new environment"


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
        database = parsed.database if self.is_sqlite else None
        # The SQLite file, None for PostgreSQL and in-memory databases.
        self.path: Path | None = Path(database).absolute() if database and database != ":memory:" else None
        self.read_only = self.path is not None and not _writable(self.path)
        if self.path is not None:
            _prepare_sqlite_file(self.path, self.read_only)
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
                engine = create_engine(
                    self.url, pool_pre_ping=True, pool_size=8, max_overflow=8, hide_parameters=True
                )
            except Exception as exc:  # a missing driver is bad input, not a crash
                raise BadInputError(f"cannot use database URL: {exc}") from None
            if self.url.get_backend_name() == "postgresql":
                _serialize_postgres_writers(engine, timeout)
            return engine
        options: dict[str, Any] = {"connect_args": {"timeout": timeout, "check_same_thread": False}}
        if self.read_only and self.path is not None:
            options = {"creator": _read_only_connector(self.path, timeout)}
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
        """A write transaction, serialized against every other writer of this environment."""
        with translate_db_errors(self), self._writer_sessions() as session, session.begin():
            yield session

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
            f"(waited {busy_timeout_seconds():g} s); try again when it is done"
        )
    if code.startswith("SQLITE_CORRUPT") or code == "SQLITE_NOTADB" or "malformed" in text:
        return StateError(f"the database {db.file_or_url()} is damaged ({text}); {RESTORE_ADVICE}")
    if code.startswith("SQLITE_READONLY"):
        return StateError(
            f"the database {db.file_or_url()} cannot be written ({text}); make it and its folder writable "
            "by this user to change anything (the read-only views work as they are)"
        )
    if code.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return StateError(f"cannot open the database {db.file_or_url()} ({text}); check that it and its folder "
                          "exist and that this user may read them")
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


# -- SQLite files ------------------------------------------------------------------------------


def _writable(path: Path) -> bool:
    """Whether this process may change the database: its folder, and the file when it exists."""
    folder_ok = os.access(path.parent, os.W_OK) if path.parent.is_dir() else True
    return folder_ok and (not path.exists() or os.access(path, os.W_OK))


def _prepare_sqlite_file(path: Path, read_only: bool) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise StateError(f"data folder {folder} does not exist")
    if not path.exists():
        if read_only:
            raise StateError(f"no database at {path}, and its folder {folder} is read-only; run 'init' "
                             "in a folder this user can write to")
        _create_private_file(path)
        return
    _tighten_mode(path)
    problem = sqlite_file_problem(path)
    if problem is not None:
        raise StateError(f"the database {path} is damaged ({problem}); {RESTORE_ADVICE}")
    wal, shm = path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
    if read_only and wal.exists() and not shm.exists():
        # SQLite needs the -shm index to read a write-ahead log, and cannot create it here.
        raise StateError(f"the database {path} has unsaved changes in {wal.name}, which cannot be read in a "
                         "read-only folder; run any command once where the folder can be written")


def _create_private_file(path: Path) -> None:
    """An empty file with the owner-only mode: SQLite takes an empty file for a new database."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))
    except FileExistsError:
        pass  # another process was first; it created it the same way
    except OSError as exc:
        raise StateError(f"cannot create the database {path} ({exc.strerror}); check the folder's "
                         "permissions") from None


def _tighten_mode(path: Path) -> None:
    """Owner-only modes for the database and its -wal and -shm files, when they are ours."""
    if os.name != "posix":
        return
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            info = candidate.stat()
            if info.st_uid == os.geteuid() and info.st_mode & 0o077:
                candidate.chmod(info.st_mode & 0o700)
        except OSError:
            pass  # gone meanwhile, or on a read-only filesystem: nothing this process can change


def sqlite_file_problem(path: Path) -> str | None:
    """What is visibly wrong with the SQLite file at ``path``, from its first 100 bytes and its size.

    An empty file is a database not written yet. A file shorter than its header says is cut short,
    unless a write-ahead log holds pages not yet copied into it.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise StateError(f"cannot read the database {path} ({exc.strerror}); check that this user may "
                         "read it") from None
    if size == 0:
        return None
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        return "it is not an SQLite database"
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return "its header is damaged"
    pages = int.from_bytes(header[28:32], "big")
    header_is_current = header[24:28] == header[92:96]
    wal = path.with_name(path.name + "-wal")
    wal_pending = wal.exists() and wal.stat().st_size > 0
    if header_is_current and not wal_pending and size < pages * page_size:
        return f"it is cut short: {size} bytes of {pages * page_size}"
    return None


def _read_only_connector(path: Path, timeout: float) -> Any:
    """Connections that never write. Without a write-ahead log beside the file (no writer has it
    open) SQLite cannot create one in a read-only folder, and reads the file as immutable."""
    quoted = urllib.parse.quote(str(path))

    def connect() -> sqlite3.Connection:
        wal = path.with_name(path.name + "-wal")
        extra = "" if wal.exists() else "&immutable=1"
        return sqlite3.connect(f"file:{quoted}?mode=ro{extra}", uri=True, timeout=timeout, check_same_thread=False)

    return connect
