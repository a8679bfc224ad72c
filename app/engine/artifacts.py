"""Content-addressed storage of zips, and the zip rules bundles, artifacts and releases share.

Source zips and compiled artifacts are stored as ``<root>/<sha[:2]>/<sha>.zip``. The sha256 of the
bytes is the name, so storing the same content twice is free and a stored file can always be checked
against its own name.

The helpers below exist once so that bundles, artifacts and front-end releases agree on what a
canonical zip is and which member paths are safe. Stored zips are readable by their owner only.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import time
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from app.engine.blobs import Blob, blob_size, chunks, file_sha256
from app.engine.durability import PendingWrites, make_durable
from app.engine.errors import DeployCenterError
from app.engine.files import PRIVATE_FOLDER_MODE, PRIVATE_MODE, temp_name_for, write_new_file

# A fixed date and mode make zips depend on their content only (1980-01-01 is the zip epoch).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o100644
ZIP_COMPRESS_LEVEL = 6
_UNIX_CREATOR = 3
# A zip of content this small is built in memory; a bigger one is written to disk as it is built.
SMALL_ZIP = 8 * 1024 * 1024
DEFLATE_LIMIT = 1024 * 1024  # a bigger file is stored as it is in a source zip
INCOMING_PREFIX = ".incoming-"  # a big zip being built in the store, not in place yet
STALE_TEMP_SECONDS = 24 * 3600

_SHA256_TEXT = re.compile(r"[0-9a-f]{64}")


class ArtifactCorruptError(DeployCenterError):
    """A stored zip is missing or its content no longer matches its sha256."""

    exit_code = 1


# Every ArtifactCorruptError's message starts so: "artifact <sha256> is corrupt", "... is missing".
_DAMAGED = re.compile(r"artifact [0-9a-f]{64}\b")


def damaged_artifact(reason: str | None) -> bool:
    """Whether a failed item's reason says its artifact is damaged or missing: the one failure of a
    deploy that compiling the module again repairs (storing the same zip again mends the copy)."""
    return reason is not None and _DAMAGED.match(reason) is not None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_zip(files: Mapping[str, bytes], *, compress: bool = True) -> bytes:
    """Zip ``files`` so that the same names and contents always give the same bytes."""
    buffer = io.BytesIO()
    write_canonical_zip(buffer, files, compress=compress)
    return buffer.getvalue()


def write_canonical_zip(handle: IO[bytes], files: Mapping[str, Blob], *, compress: bool) -> None:
    """``canonical_zip`` into a seekable file, each member read in chunks: memory stays flat.

    Source zips are deflated, but for files over ``DEFLATE_LIMIT``: those are mostly media and
    archives, compressed already, and deflating them would cost seconds per hundred megabytes
    for nothing. Artifacts are stored uncompressed, so that a deploy is a copy.
    """
    with zipfile.ZipFile(handle, "w") as archive:
        for name in sorted(files):
            blob = files[name]
            deflate = compress and blob_size(blob) <= DEFLATE_LIMIT
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            info.create_system = _UNIX_CREATOR  # the default depends on the OS building the zip
            info.external_attr = ZIP_FILE_MODE << 16
            if isinstance(blob, bytes):
                archive.writestr(info, blob, compresslevel=ZIP_COMPRESS_LEVEL)
                continue
            # What writestr does, a chunk at a time: the size known up front gives the same bytes.
            info.file_size = blob.size
            info._compresslevel = ZIP_COMPRESS_LEVEL  # type: ignore[attr-defined]  # writestr's own
            with archive.open(info, "w") as member:
                for piece in chunks(blob):
                    member.write(piece)


def member_path_problem(name: str) -> str | None:
    """Why ``name`` is not a safe relative posix path inside a bundle or release, or None.

    Refuses anything that could land outside the target folder once extracted, on any OS, and
    control characters, which terminals, logs and file systems each read their own way.
    """
    if not name:
        return "has an empty name"
    control = next((character for character in name if unicodedata.category(character) == "Cc"), None)
    if control is not None:
        return f"contains a control character (U+{ord(control):04X})"
    if name.startswith("/"):
        return "is an absolute path"
    if "\\" in name:
        return "contains a backslash"
    if ":" in name:
        return "contains ':' (a drive letter or stream name)"
    parts = name.split("/")
    if ".." in parts:
        return "climbs out with '..'"
    if any(part in ("", ".") for part in parts):
        return "has an empty or '.' path component"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    return None


def is_symlink_member(info: zipfile.ZipInfo) -> bool:
    """Whether a zip entry was stored as a symbolic link by a unix zip tool."""
    mode = info.external_attr >> 16
    return (mode & 0o170000) == 0o120000


@dataclass(frozen=True)
class PendingZip:
    """A zip built for the store and not in it yet: its bytes, or a temp file in the store."""

    sha256: str
    size: int
    data: bytes | None
    temp: Path | None


class ArtifactStore:
    """Zips addressed by their sha256 under ``root`` (the environment's ``artifacts`` folder)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)  # created by the first put, never at construction

    def path(self, sha: str) -> Path:
        if not _SHA256_TEXT.fullmatch(sha):
            raise ValueError(f"not a sha256 hex digest: {sha!r}")
        return self.root / sha[:2] / f"{sha}.zip"

    def exists(self, sha: str) -> bool:
        return self.path(sha).is_file()

    def prepare(self, files: Mapping[str, Blob], *, compress: bool) -> PendingZip:
        """Build the canonical zip of ``files`` for ``commit``: in memory when small, else
        straight into a temp file here, so that a big file never sits in memory whole."""
        if sum(blob_size(blob) for blob in files.values()) <= SMALL_ZIP and all(
            isinstance(blob, bytes) for blob in files.values()
        ):
            data = canonical_zip(files, compress=compress)  # type: ignore[arg-type]  # all bytes
            return PendingZip(sha256_hex(data), len(data), data, None)
        temp = self._incoming()
        try:
            fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), PRIVATE_MODE)
            with open(fd, "w+b") as handle:
                write_canonical_zip(handle, files, compress=compress)
            # zipfile seeks back to fill in sizes, so the bytes are hashed once written.
            return PendingZip(file_sha256(temp), temp.stat().st_size, None, temp)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def spill(self, zipped: PendingZip) -> PendingZip:
        """The same prepared zip, moved from memory to a temp file here (many bundles at once)."""
        if zipped.data is None:
            return zipped
        temp = self._incoming()
        write_new_file(temp, zipped.data, durable=False, mode=PRIVATE_MODE)
        return PendingZip(zipped.sha256, zipped.size, None, temp)

    def _incoming(self) -> Path:
        """A fresh temp name in the store for a zip not in place yet (``sweep`` knows the prefix)."""
        self.root.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
        return self.root / f"{INCOMING_PREFIX}{secrets.token_hex(8)}.zip"

    def commit(self, pending: Sequence[PendingZip]) -> list[str]:
        """Put prepared zips in place and return their sha256s; they are on disk when this returns.

        Each zip goes to a temp name, then into place, each step made durable by one disk flush
        shared with every other writer of the moment (``durability``) instead of two fsyncs per
        zip. Storing again repairs a stored copy that had been damaged.
        """
        moves: dict[Path, Path] = {}  # target -> temp
        try:
            for zipped in pending:
                target = self.path(zipped.sha256)
                if target in moves or self._holds(target, zipped.sha256):
                    if zipped.temp is not None:
                        zipped.temp.unlink(missing_ok=True)
                    continue
                for folder in (self.root, target.parent):
                    folder.mkdir(mode=PRIVATE_FOLDER_MODE, exist_ok=True)
                if zipped.temp is not None:
                    moves[target] = zipped.temp
                    continue
                moves[target] = temp_name_for(target)
                assert zipped.data is not None
                write_new_file(moves[target], zipped.data, durable=False, mode=PRIVATE_MODE)
            if not moves:
                return [zipped.sha256 for zipped in pending]
            make_durable([PendingWrites(self.root, list(moves.values()), [])])
            for target, temp in list(moves.items()):
                os.replace(temp, target)
                del moves[target]
        finally:
            for temp in moves.values():
                temp.unlink(missing_ok=True)
        folders = {self.path(zipped.sha256).parent for zipped in pending}
        make_durable([PendingWrites(self.root, [], [*folders, self.root])])
        return [zipped.sha256 for zipped in pending]

    def sweep(self, older_than: float = STALE_TEMP_SECONDS) -> int:
        """Remove temp zips a process that died left in the store (older than ``older_than``
        seconds: a younger one may be another process's, still being written). Best effort."""
        removed = 0
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return 0
        limit = time.time() - older_than
        for entry in entries:
            if not entry.name.startswith(INCOMING_PREFIX):
                continue
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < limit:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
        return removed

    @staticmethod
    def discard(pending: Sequence[PendingZip]) -> None:
        """Drop prepared zips that will not be stored (a refused publish)."""
        for zipped in pending:
            if zipped.temp is not None:
                zipped.temp.unlink(missing_ok=True)

    def load(self, sha: str) -> bytes | Path:
        """A stored zip checked against its name: its bytes when small, else its path (checked
        by reading it in chunks), for readers that then take its members one at a time."""
        target = self.path(sha)
        try:
            size = target.stat().st_size
        except FileNotFoundError:
            raise ArtifactCorruptError(f"artifact {sha} is missing from {self.root}") from None
        except OSError as error:
            raise ArtifactCorruptError(f"artifact {sha} cannot be read: {error.strerror}") from None
        if size <= SMALL_ZIP:
            return self.read(sha)
        try:
            found = file_sha256(target)
        except OSError as error:
            raise ArtifactCorruptError(f"artifact {sha} cannot be read: {error.strerror}") from None
        if found != sha:
            raise ArtifactCorruptError(f"artifact {sha} is corrupt: its content no longer matches its sha256")
        return target

    def read(self, sha: str) -> bytes:
        target = self.path(sha)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            raise ArtifactCorruptError(f"artifact {sha} is missing from {self.root}") from None
        except OSError as error:
            raise ArtifactCorruptError(f"artifact {sha} cannot be read: {error.strerror}") from None
        if sha256_hex(data) != sha:
            raise ArtifactCorruptError(f"artifact {sha} is corrupt: its content no longer matches its sha256")
        return data

    @staticmethod
    def _holds(target: Path, sha: str) -> bool:
        try:
            return file_sha256(target) == sha
        except OSError:
            return False
