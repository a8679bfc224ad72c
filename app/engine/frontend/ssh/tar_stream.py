"""Tar streams to and from remote front-ends: releases go out as one tar per batch, and the
files a script dumps (``config.json``, ``.release.json``) come back as one.

Members are written by hand for the common case (short ASCII names), with ``tarfile`` for the
rest; a big file's content is read and sent a chunk at a time (``blobs``).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator

from app.engine import blobs
from app.engine.blobs import Blob, BlobError


def tar_member(name: str, data: bytes, mtime: int, mode: int = 0o644) -> bytes:
    """One regular file as tar bytes (a pax header first when the name needs one)."""
    encoded = name.encode("utf-8", errors="surrogateescape")
    if len(encoded) <= 100 and encoded.isascii() and len(data) < 0o77777777777:
        return _ustar_member(encoded, data, mtime, mode)
    padding = -len(data) % tarfile.BLOCKSIZE
    return b"".join((_pax_header(name, len(data), mtime, mode), data, b"\0" * padding))


def tar_member_parts(name: str, data: Blob, mtime: int, mode: int = 0o644) -> Iterator[bytes]:
    """``tar_member`` for content that may be a big file's reference: read a chunk at a time."""
    if isinstance(data, bytes):
        yield tar_member(name, data, mtime, mode)
        return
    yield _pax_header(name, data.size, mtime, mode)
    sent = 0
    for piece in blobs.chunks(data):
        sent += len(piece)
        yield piece
    if sent != data.size:
        raise BlobError(f"{name}: the content is not the size it was")
    yield b"\0" * (-data.size % tarfile.BLOCKSIZE)


def _pax_header(name: str, size: int, mtime: int, mode: int) -> bytes:
    """The header of a regular file in ``tarfile``'s pax form: any name, any size."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = mode
    info.uname = info.gname = ""
    return info.tobuf(format=tarfile.PAX_FORMAT)


def _ustar_member(name: bytes, data: bytes, mtime: int, mode: int) -> bytes:
    """The common case written directly: tarfile's general header code costs more than the data."""
    header = bytearray(
        name.ljust(100, b"\0")
        + b"%07o\0" % mode
        + b"0000000\0" * 2  # uid, gid
        + b"%011o\0" % len(data)
        + b"%011o\0" % mtime
        + b" " * 8  # the checksum field counts as spaces while summing
        + b"0"  # a regular file
        + b"\0" * 100  # no link name
        + b"ustar\x0000"
        + b"\0" * (32 + 32 + 8 + 8 + 155 + 12)  # owner names, device numbers, prefix, padding
    )
    header[148:156] = b"%06o\0 " % sum(header)
    padding = -len(data) % tarfile.BLOCKSIZE
    return b"".join((header, data, b"\0" * padding))


def tar_end() -> bytes:
    return b"\0" * (tarfile.BLOCKSIZE * 2)


def coalesced(parts: Iterable[bytes], size: int = 1 << 18) -> Iterator[bytes]:
    """The same bytes in pieces of about ``size``: each write to the channel has a fixed cost."""
    pending: list[bytes] = []
    held = 0
    for part in parts:
        pending.append(part)
        held += len(part)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


def read_tar(archive: bytes) -> dict[str, bytes | None]:
    """The files of a dumped tar: path -> content, None for a link or special file.

    Plain ustar and GNU headers with short names are read directly, several times faster than
    ``tarfile`` for thousands of small files; anything else (long names, pax headers, a bad
    checksum) goes through ``tarfile``.
    """
    files: dict[str, bytes | None] = {}
    offset, size_of = 0, len(archive)
    while offset + tarfile.BLOCKSIZE <= size_of:
        header = archive[offset : offset + tarfile.BLOCKSIZE]
        if not header.strip(b"\0"):
            break  # the end of the archive
        kind = header[156:157]
        size_field = header[124:136]
        if kind in (b"L", b"K", b"x", b"g") or size_field[:1] >= b"\x80" or not _checksum_ok(header):
            return _read_tar_slowly(archive)
        name = header[:100].split(b"\0", 1)[0]
        if header[257:263] == b"ustar\0":  # POSIX ustar: a prefix may hold the start of the path
            prefix = header[345:500].split(b"\0", 1)[0]
            name = prefix + b"/" + name if prefix else name
        size = int(size_field.split(b"\0", 1)[0].strip() or b"0", 8)
        start, end = offset + tarfile.BLOCKSIZE, offset + tarfile.BLOCKSIZE + size
        if end > size_of:
            break  # truncated: what was read stands, the rest counts as missing
        path = name.decode("utf-8", errors="surrogateescape")
        if kind in (b"0", b"\0", b"7"):
            files[path] = archive[start:end]
        elif kind != b"5":  # a link or special file (tar stores a file named twice as a link)
            files.setdefault(path, None)
        offset = start + -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    return files


def _checksum_ok(header: bytes) -> bool:
    try:
        recorded = int(header[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    return recorded == sum(header[:148]) + 8 * 32 + sum(header[156:])


def _read_tar_slowly(archive: bytes) -> dict[str, bytes | None]:
    files: dict[str, bytes | None] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            for member in tar:
                if member.isdir():
                    continue
                reader = tar.extractfile(member) if member.isreg() else None
                if reader is not None:
                    files[member.name] = reader.read()
                else:
                    files.setdefault(member.name, None)
    except (tarfile.TarError, EOFError, OSError):
        pass  # a truncated dump: what was read stands, the rest counts as missing
    return files
