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
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from app.engine.durability import PendingWrites, make_durable
from app.engine.errors import DeployCenterError
from app.engine.files import PRIVATE_FOLDER_MODE, PRIVATE_MODE, temp_name_for, write_new_file

# A fixed date and mode make zips depend on their content only (1980-01-01 is the zip epoch).
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE = 0o100644
ZIP_COMPRESS_LEVEL = 6
_UNIX_CREATOR = 3

_SHA256_TEXT = re.compile(r"[0-9a-f]{64}")


class ArtifactCorruptError(DeployCenterError):
    """A stored zip is missing or its content no longer matches its sha256."""

    exit_code = 1


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_zip(files: Mapping[str, bytes]) -> bytes:
    """Zip ``files`` so that the same names and contents always give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = _UNIX_CREATOR  # the default depends on the OS building the zip
            info.external_attr = ZIP_FILE_MODE << 16
            archive.writestr(info, files[name], compresslevel=ZIP_COMPRESS_LEVEL)
    return buffer.getvalue()


def member_path_problem(name: str) -> str | None:
    """Why ``name`` is not a safe relative posix path inside a bundle or release, or None.

    Refuses anything that could land outside the target folder once extracted, on any OS.
    """
    if not name:
        return "has an empty name"
    if name.startswith("/"):
        return "is an absolute path"
    if "\\" in name:
        return "contains a backslash"
    if ":" in name:
        return "contains ':' (a drive letter or stream name)"
    if "\x00" in name:
        return "contains a NUL character"
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

    def put(self, data: bytes) -> str:
        return self.put_many([data])[0]

    def put_many(self, blobs: Sequence[bytes]) -> list[str]:
        """Store zips and return their sha256s; they are on disk when this returns.

        Each zip goes to a temp name, then into place, each step made durable by one disk flush
        shared with every other writer of the moment (``durability``) instead of two fsyncs per
        zip. Storing again repairs a stored copy that had been damaged.
        """
        shas = [sha256_hex(data) for data in blobs]
        moves: dict[Path, Path] = {}  # target -> temp
        try:
            for sha, data in zip(shas, blobs, strict=True):
                target = self.path(sha)
                if target in moves or self._holds(target, sha):
                    continue
                for folder in (self.root, target.parent):
                    folder.mkdir(mode=PRIVATE_FOLDER_MODE, exist_ok=True)
                moves[target] = temp_name_for(target)
                write_new_file(moves[target], data, durable=False, mode=PRIVATE_MODE)
            if not moves:
                return shas
            make_durable([PendingWrites(self.root, list(moves.values()), [])])
            for target, temp in list(moves.items()):
                os.replace(temp, target)
                del moves[target]
        finally:
            for temp in moves.values():
                temp.unlink(missing_ok=True)
        folders = {self.path(sha).parent for sha in shas}
        make_durable([PendingWrites(self.root, [], [*folders, self.root])])
        return shas

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
            return sha256_hex(target.read_bytes()) == sha
        except OSError:
            return False
