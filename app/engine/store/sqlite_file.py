"""An environment's SQLite file on disk, without SQLAlchemy: its name, its mode, visible damage.

Apart from ``database`` so that what only needs the file (the quick ``status`` read among them)
starts without importing SQLAlchemy.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any

from app.engine.errors import StateError

DATABASE_FILE = "deploycenter.sqlite3"
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


def writable(path: Path) -> bool:
    """Whether this process may change the database: its folder, and the file when it exists."""
    folder_ok = os.access(path.parent, os.W_OK) if path.parent.is_dir() else True
    return folder_ok and (not path.exists() or os.access(path, os.W_OK))


def prepare_sqlite_file(path: Path, read_only: bool, *, create: bool = True) -> None:
    """Check the file before SQLite opens it; a missing one is created only when ``create`` says so."""
    folder = path.parent
    if not folder.is_dir():
        raise StateError(f"data folder {folder} does not exist")
    if not path.exists():
        if not create:  # opening an environment never leaves a database behind where there was none
            raise StateError(f"no environment at {folder} (there is no {path.name} yet); run 'init' first")
        if read_only:
            raise StateError(
                f"no database at {path}, and its folder {folder} is read-only; run 'init' "
                "in a folder this user can write to"
            )
        _create_private_file(path)
        return
    _tighten_mode(path)
    problem = sqlite_file_problem(path)
    if problem is not None:
        raise StateError(f"the database {path} is damaged ({problem}); {RESTORE_ADVICE}")
    wal, shm = path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
    if read_only and wal.exists() and not shm.exists():
        # SQLite needs the -shm index to read a write-ahead log, and cannot create it here.
        raise StateError(
            f"the database {path} has unsaved changes in {wal.name}, which cannot be read in a "
            "read-only folder; run any command once where the folder can be written"
        )


def _create_private_file(path: Path) -> None:
    """An empty file with the owner-only mode: SQLite takes an empty file for a new database."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))
    except FileExistsError:
        pass  # another process was first; it created it the same way
    except OSError as exc:
        raise StateError(
            f"cannot create the database {path} ({exc.strerror}); check the folder's permissions"
        ) from None


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
        raise StateError(
            f"cannot read the database {path} ({exc.strerror}); check that this user may read it"
        ) from None
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


def read_only_connector(path: Path, timeout: float) -> Any:
    """Connections that never write. Without a write-ahead log beside the file (no writer has it
    open) SQLite cannot create one in a read-only folder, and reads the file as immutable."""
    quoted = urllib.parse.quote(str(path))

    def connect() -> sqlite3.Connection:
        wal = path.with_name(path.name + "-wal")
        extra = "" if wal.exists() else "&immutable=1"
        return sqlite3.connect(f"file:{quoted}?mode=ro{extra}", uri=True, timeout=timeout, check_same_thread=False)

    return connect
