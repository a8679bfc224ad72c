"""File writes the engine shares: create without a torn file, replace atomically, flush to disk.

Bundles, the artifact store and local front-ends all write through these, so that every file
Deploy Center writes is either absent, old or new, never half there.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from app.engine.blobs import Blob, write_blob

# Front-end files must be readable by the servers that serve them: the umask decides.
SHARED_MODE = 0o666
# The data dir's own files (database, artifacts) and applied configurations: the owner only.
PRIVATE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


def fsync_directory(path: str | Path) -> None:
    """Make a rename or creation inside ``path`` durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (PermissionError, IsADirectoryError):
        return  # Windows cannot open folders; its renames are journaled by NTFS instead
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise  # some filesystems do not support fsync on folders; that is not a failure
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    # Read-write: Windows flushes only handles opened for writing. The files are our own.
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name_for(target: Path) -> Path:
    """A fresh hidden temp name next to ``target``: same folder, so os.replace stays atomic."""
    return target.with_name(f".{target.name}.tmp-{secrets.token_hex(6)}")


def write_new_file(path: str | Path, data: Blob, *, durable: bool = True, mode: int = SHARED_MODE) -> None:
    """Create ``path`` (it must not exist), write ``data`` and, when ``durable``, flush it to disk.

    ``data`` may be a reference to a big file's content (``blobs``), copied without holding it.
    Without ``durable`` the caller makes many files durable at once later (``durability``).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        write_blob(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, mode: int = SHARED_MODE) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new content, never a mix."""
    temp = temp_name_for(path)
    try:
        write_new_file(temp, data, mode=mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
