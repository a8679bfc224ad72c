"""A release's content, read from its artifact once for every front-end.

An artifact is a canonical zip (``artifacts.canonical_zip``). Its members are checked so that
none could land outside the release folder, then read with their CRC checked. The hashes for
``.release.json`` come from the artifact's ``.build.json``, computed when it was compiled (older
artifacts without them are hashed here). A big artifact is not read into memory: its members,
stored uncompressed, become slices of the stored file that each front-end copies.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.artifacts import ArtifactCorruptError, is_symlink_member, member_path_problem, sha256_hex
from app.engine.blobs import Blob, BlobError, FileSlice, ZipMember, read_all, sha256_of
from app.engine.config import config_bytes
from app.engine.frontend.layout import RELEASE_INFO, check_module_name, release_id_for, release_info_bytes
from app.engine.frontend.target import ReleaseFiles

BUILD_INFO = ".build.json"  # the compiler's (``compiler.BUILD_INFO_NAME``), with the files' hashes


@dataclass(frozen=True)
class ReleaseRequest:
    """What to make live for one module: a compilation's artifact with the module's configuration."""

    module: str
    version: int
    platform: str
    artifact_sha256: str
    config: Mapping[str, str]

    @property
    def release_id(self) -> str:
        return release_id_for(self.version, self.platform, self.artifact_sha256)


def release_files(request: ReleaseRequest, artifact: bytes | Path, *, checked: bool = False) -> ReleaseFiles:
    """The files to write for ``request``, checked against the artifact's sha256 and zip rules.

    ``artifact`` is the artifact's bytes, or the path of a big one; ``checked`` says its sha256
    was already compared (``ArtifactStore.load`` does, and always does for a path).
    """
    check_module_name(request.module)
    sha = request.artifact_sha256
    if isinstance(artifact, Path):
        files: Mapping[str, Blob] = stored_artifact_files(sha, artifact)
    else:
        if not checked and sha256_hex(artifact) != sha:
            raise ArtifactCorruptError(f"artifact {sha} does not match its sha256; it will not be deployed")
        files = artifact_files(sha, artifact)
    info = release_info_bytes(request.module, request.version, request.platform, sha, _file_hashes(sha, files))
    return ReleaseFiles(request.module, request.release_id, sha, files, info, config_bytes(request.config))


def _file_hashes(sha: str, files: Mapping[str, Blob]) -> dict[str, str]:
    """Every member's sha256: from ``.build.json`` where the compiler put them, else computed."""
    known: Any = None
    build = files.get(BUILD_INFO)
    if isinstance(build, bytes):
        try:
            known = json.loads(build).get("files")
        except (ValueError, AttributeError):
            known = None
    try:
        if isinstance(known, dict) and known.keys() == files.keys() - {BUILD_INFO}:
            hashes = {name: str(known[name]) for name in files if name != BUILD_INFO}
            hashes[BUILD_INFO] = sha256_hex(build)  # type: ignore[arg-type]  # bytes, checked above
            return {name: hashes[name] for name in files}
        return {name: sha256_of(blob) for name, blob in files.items()}
    except BlobError as error:
        raise ArtifactCorruptError(f"artifact {sha} cannot be read: {error}") from None


def stored_artifact_files(sha: str, path: Path) -> dict[str, Blob]:
    """The members of a big stored artifact (its sha256 already checked), not read: an
    uncompressed member is a slice of the file, any other a member read when written."""
    try:
        with path.open("rb") as handle, zipfile.ZipFile(handle) as archive:
            files: dict[str, Blob] = {}
            for info in _safe_members(sha, archive):
                if info.flag_bits & 0x1 or info.compress_type != zipfile.ZIP_STORED:
                    files[info.filename] = ZipMember(str(path), info.filename, info.file_size)
                    continue
                handle.seek(info.header_offset)
                start = _data_start(info, handle.read(_LOCAL_HEADER.size))
                files[info.filename] = FileSlice(str(path), start, info.file_size)
            build = files.get(BUILD_INFO)
            if build is not None:
                files[BUILD_INFO] = read_all(build)  # small, and read for its hashes
            return files
    except (OSError, zipfile.BadZipFile, EOFError, ValueError, struct.error, BlobError) as error:
        raise ArtifactCorruptError(f"artifact {sha} is not a readable zip: {error}") from None


def artifact_files(sha: str, artifact: bytes) -> dict[str, bytes]:
    """Artifact members, refused if any could land outside the release folder (zip-slip)."""
    try:
        with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
            view = memoryview(artifact)
            return {info.filename: _member_bytes(view, archive, info) for info in _safe_members(sha, archive)}
    except (zipfile.BadZipFile, EOFError, ValueError, zlib.error) as error:
        raise ArtifactCorruptError(f"artifact {sha} is not a readable zip: {error}") from None


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local header, as in zipfile
_LOCAL_MAGIC = b"PK\x03\x04"


def _data_start(info: zipfile.ZipInfo, header_bytes: bytes | memoryview) -> int:
    """Where a member's data starts in its zip, from its local header (read at ``header_offset``)."""
    header = _LOCAL_HEADER.unpack(header_bytes)
    if header[0] != _LOCAL_MAGIC:
        raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
    names_and_extra: int = header[10] + header[11]
    return info.header_offset + _LOCAL_HEADER.size + names_and_extra


def _member_bytes(artifact: memoryview, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member's content, with its CRC checked.

    Stored and deflated members are sliced out of the artifact and inflated in one call, which
    is several times cheaper than ``ZipFile.read``'s file object per member; anything else
    (other compression, encryption) goes through ``ZipFile.read``.
    """
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return archive.read(info)
    start = _data_start(info, artifact[info.header_offset : info.header_offset + _LOCAL_HEADER.size])
    raw = artifact[start : start + info.compress_size]
    data = bytes(raw) if info.compress_type == zipfile.ZIP_STORED else zlib.decompress(raw, -zlib.MAX_WBITS)
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        raise zipfile.BadZipFile(f"bad CRC or size for {info.filename!r}")
    return data


def _safe_members(sha: str, archive: zipfile.ZipFile) -> Iterator[zipfile.ZipInfo]:
    seen: set[str] = set()
    for info in archive.infolist():
        if info.is_dir():
            continue
        problem = member_path_problem(info.orig_filename)  # as held: zipfile cuts a name at a NUL
        if problem is None and is_symlink_member(info):
            problem = "is a symbolic link"
        if problem is None and info.filename in seen | {RELEASE_INFO}:
            problem = "would overwrite another file"
        if problem is not None:
            raise ArtifactCorruptError(f"artifact {sha}: entry {info.filename!r} {problem}")
        seen.add(info.filename)
        yield info
