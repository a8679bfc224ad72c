"""File content that may be too big to hold in memory: the bytes, or where to read them.

A bundle may hold one file of hundreds of megabytes. Such a file travels from the bundle to the
source zip, the artifact and every front-end as a reference (``FileSlice``, ``ZipMember``) and
is read in chunks of ``CHUNK`` at each step, so that memory stays flat whatever the file's size.
Small files stay ``bytes``: reading them once is cheaper than opening them again at every step.
"""

from __future__ import annotations

import errno
import hashlib
import os
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

CHUNK = 1 << 20
# A file up to this size is read into memory, while its bundle or artifact has held fewer than
# IN_MEMORY_BUDGET bytes so far; every other file is a reference.
IN_MEMORY_LIMIT = 256 * 1024
IN_MEMORY_BUDGET = 32 * 1024 * 1024


class BlobError(OSError):
    """The content behind a reference can no longer be read as it was found (changed, damaged)."""


@dataclass(frozen=True)
class FileSlice:
    """``size`` bytes at ``offset`` of the file ``path``: a bundle's file, or an uncompressed zip member."""

    path: str
    offset: int
    size: int


@dataclass(frozen=True)
class ZipMember:
    """The compressed member ``name`` of the zip at ``path``; its CRC is checked as it is read."""

    path: str
    name: str
    size: int


Blob = bytes | FileSlice | ZipMember


def blob_size(blob: Blob) -> int:
    return len(blob) if isinstance(blob, bytes) else blob.size


class MemoryBudget:
    """Decides, file by file, whether one bundle's or artifact's file is read or referenced."""

    def __init__(self) -> None:
        self.used = 0

    def take(self, size: int) -> bool:
        """Whether a file of ``size`` bytes may be held in memory (and count it if so)."""
        if size > IN_MEMORY_LIMIT or self.used + size > IN_MEMORY_BUDGET:
            return False
        self.used += size
        return True


def chunks(blob: Blob, size: int = CHUNK) -> Iterator[bytes]:
    """The content in pieces of at most ``size`` bytes; raises ``BlobError`` if it is not as found."""
    if isinstance(blob, bytes):
        for start in range(0, len(blob), size):
            yield blob[start : start + size]
    elif isinstance(blob, FileSlice):
        yield from _slice_chunks(blob, size)
    else:
        yield from _member_chunks(blob, size)


def read_all(blob: Blob) -> bytes:
    return blob if isinstance(blob, bytes) else b"".join(chunks(blob))


def sha256_of(blob: Blob) -> str:
    digest = hashlib.sha256()
    for piece in chunks(blob):
        digest.update(piece)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a whole file, read in chunks."""
    with open(path, "rb", buffering=0) as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()  # one reused buffer


def write_blob(fd: int, blob: Blob) -> None:
    """Write the content at ``fd``'s position: small content in one write, a slice of a file by
    ``copy_file_range`` (no copy through this process, a reflink where the filesystem can)."""
    if isinstance(blob, bytes):
        _write_all(fd, blob)
    elif isinstance(blob, FileSlice) and hasattr(os, "copy_file_range"):
        _copy_slice(fd, blob)
    else:
        for piece in chunks(blob):
            _write_all(fd, piece)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _copy_slice(fd: int, blob: FileSlice) -> None:
    source = _open_slice(blob)
    try:
        offset, left = blob.offset, blob.size
        while left:
            try:
                copied = os.copy_file_range(source, fd, left, offset)
            except OSError as error:
                if error.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                # The kernel cannot (another filesystem, say): copy the rest through user space.
                for piece in _slice_chunks(FileSlice(blob.path, offset, left), CHUNK):
                    _write_all(fd, piece)
                return
            if copied == 0:
                raise _shorter(blob)
            offset += copied
            left -= copied
    finally:
        os.close(source)


def _shorter(blob: FileSlice) -> BlobError:
    return BlobError(f"{blob.path} is shorter than when it was read (it changed meanwhile)")


def _open_slice(blob: FileSlice) -> int:
    try:
        source = os.open(blob.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise BlobError(f"{blob.path} cannot be read: {error.strerror}") from None
    if os.fstat(source).st_size < blob.offset + blob.size:
        os.close(source)
        raise _shorter(blob)
    return source


def _slice_chunks(blob: FileSlice, size: int) -> Iterator[bytes]:
    source = _open_slice(blob)
    try:
        os.lseek(source, blob.offset, os.SEEK_SET)
        left = blob.size
        while left:
            piece = os.read(source, min(size, left))
            if not piece:
                raise _shorter(blob)
            left -= len(piece)
            yield piece
    finally:
        os.close(source)


def _member_chunks(blob: ZipMember, size: int) -> Iterator[bytes]:
    try:
        with zipfile.ZipFile(blob.path) as archive, archive.open(blob.name) as member:
            total = 0
            while piece := member.read(size):
                total += len(piece)
                yield piece
    except (
        OSError,
        zipfile.BadZipFile,
        EOFError,
        KeyError,
        ValueError,
        RuntimeError,
        NotImplementedError,
        zlib.error,
    ) as error:
        raise BlobError(f"zip entry {blob.name!r} cannot be read: {error}") from None
    if total != blob.size:
        raise BlobError(f"zip entry {blob.name!r} is not the size its zip says")
