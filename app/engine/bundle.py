"""Module bundles: reading a folder or zip, checking its paths, canonical source zips.

A bundle is untrusted input. Everything wrong with it becomes one ``BundleError`` line naming the
bundle and the problem, raised before anything is stored; paths that could escape the bundle,
special files and oversized input are refused here so later stages can trust ``Bundle.files``.
"""

from __future__ import annotations

import io
import os
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, NoReturn

from app.engine.artifacts import (
    ArtifactStore,
    PendingZip,
    canonical_zip,
    is_symlink_member,
    member_path_problem,
    sha256_hex,
)
from app.engine.blobs import Blob, BlobError, FileSlice, MemoryBudget, ZipMember, blob_size, read_all
from app.engine.errors import BundleError
from app.engine.manifest import MANIFEST_NAME, MAX_MANIFEST_BYTES, Manifest, parse_manifest
from app.engine.names import windows_name_problem

MAX_BUNDLE_BYTES = 512 * 1024 * 1024
MAX_BUNDLE_ENTRIES = 100_000
# Root names the compiler and the deployer write into artifacts and releases themselves.
RESERVED_NAMES = frozenset({".build.json", ".release.json"})

# Tool droppings, not module content; a .git may also be a file (worktrees, submodules).
_IGNORED_NAMES = frozenset({"__pycache__", ".git", "__MACOSX", ".DS_Store"})


@dataclass(frozen=True)
class Bundle:
    """A validated bundle: its manifest and every file, ``module.toml`` included.

    A big file is a reference to where it was found (``blobs``), read again when it is stored.
    """

    manifest: Manifest
    files: Mapping[str, Blob] = field(hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType({name: self.files[name] for name in sorted(self.files)}))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Bundle, (self.manifest, dict(self.files)))

    def source_zip_bytes(self) -> bytes:
        """The canonical source zip in memory (small bundles; ``prepare_source`` streams)."""
        return self._source_zip

    @property
    def sha256(self) -> str:
        return sha256_hex(self._source_zip)

    @cached_property
    def _source_zip(self) -> bytes:
        return canonical_zip({name: read_all(blob) for name, blob in self.files.items()})


def prepare_source(bundle: Bundle, store: ArtifactStore, origin: str) -> PendingZip:
    """The bundle's canonical source zip, built for ``store`` without holding a big file whole."""
    try:
        return store.prepare(bundle.files, compress=True)
    except BlobError as error:
        _fail(origin, str(error))
    except OSError as error:
        _fail(origin, f"cannot be stored: {error.strerror or error}")


# ---------------------------------------------------------------- loading


def load_bundle(path: Path) -> Bundle:
    """Read and validate the bundle folder or ``.zip`` at ``path``."""
    path = Path(path)
    origin = f"bundle {path}"
    if path.is_dir():
        files = _read_folder(path, origin)
    elif path.is_file() and path.suffix.lower() == ".zip":
        files = _read_zip_file(path, origin)
    elif not path.exists():
        _fail(origin, "no such file or folder")
    else:
        _fail(origin, "is neither a folder nor a .zip file")
    return _bundle_from_files(files, origin)


def bundle_from_source_zip(data: bytes | Path) -> Bundle:
    """Rebuild the bundle whose source zip was stored (``ArtifactStore.load``), e.g. to recompile it."""
    origin = "stored bundle"
    if isinstance(data, Path):
        return _bundle_from_files(_read_zip_file(data, origin, strip=False), origin)
    return _bundle_from_files(_read_zip(io.BytesIO(data), origin, None), origin)


def _bundle_from_files(files: dict[str, Blob], origin: str) -> Bundle:
    if MANIFEST_NAME not in files:
        _fail(origin, f"has no {MANIFEST_NAME} at its root")
    for reserved in sorted(RESERVED_NAMES & set(files)):
        _fail(origin, f"contains {reserved}, a name Deploy Center reserves for its own files")
    _check_portable_names(files, origin)
    manifest = files[MANIFEST_NAME]
    if not isinstance(manifest, bytes):  # met after the memory budget ran out: read it now
        if blob_size(manifest) > MAX_MANIFEST_BYTES:
            _fail(origin, f"{MANIFEST_NAME} is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
        files[MANIFEST_NAME] = manifest = _read_blob(manifest, origin, MANIFEST_NAME)
    return Bundle(manifest=parse_manifest(manifest, origin), files=files)


def _read_blob(blob: Blob, origin: str, name: str) -> bytes:
    try:
        return read_all(blob)
    except BlobError as error:
        _fail(origin, f"file {name} cannot be read: {error}")


def _strip_single_top_folder(files: dict[str, Blob]) -> dict[str, Blob]:
    """Accept zips made by zipping the bundle folder itself, i.e. ``Orders/module.toml``."""
    if MANIFEST_NAME in files or not files:
        return files
    tops = {name.split("/", 1)[0] for name in files}
    top = next(iter(tops))
    if len(tops) != 1 or f"{top}/{MANIFEST_NAME}" not in files:
        return files
    return {name[len(top) + 1 :]: data for name, data in files.items()}


def _check_portable_names(files: Mapping[str, Blob], origin: str) -> None:
    """Refuse names that cannot all exist in one folder tree on every front-end's filesystem."""
    seen: dict[str, str] = {}
    for name in files:
        for component in name.split("/"):
            problem = windows_name_problem(component)
            if problem:
                _fail(origin, f"path {name!r}: {component!r} {problem}, so a Windows front-end cannot hold it")
        other = seen.setdefault(name.casefold(), name)
        if other != name:  # Windows and macOS front-ends would merge the two files
            _fail(origin, f"has files {other!r} and {name!r} that differ only in letter case")
    folders = {name.casefold().rsplit("/", 1)[0] for name in files if "/" in name}
    folders |= {folder.rsplit("/", i)[0] for folder in folders for i in range(1, folder.count("/") + 1)}
    for name in files:
        if name.casefold() in folders:
            _fail(origin, f"uses {name!r} both as a file and as a folder")


def _is_ignored(relative: str) -> bool:
    parts = relative.split("/")
    return any(part in _IGNORED_NAMES for part in parts) or parts[-1].endswith(".pyc")


class _Budget:
    """Counts entries and bytes so huge or looping input fails fast instead of exhausting the machine."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.entries = 0
        self.size = 0
        self.memory = MemoryBudget()  # which files are read now, and which only referenced

    def add(self, size: int = 0) -> None:
        self.entries += 1
        self.size += size
        if self.entries > MAX_BUNDLE_ENTRIES:
            _fail(self.origin, f"has more than {MAX_BUNDLE_ENTRIES} files and folders")
        if self.size > MAX_BUNDLE_BYTES:
            _fail(self.origin, f"is larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB")


# ---------------------------------------------------------------- zips


def _read_zip_file(path: Path, origin: str, strip: bool = True) -> dict[str, Blob]:
    try:
        with path.open("rb") as handle:
            files = _read_zip(handle, origin, path)
    except OSError as error:
        _fail(origin, f"cannot be read: {error.strerror}")
    return _strip_single_top_folder(files) if strip else files


def _read_zip(handle: IO[bytes], origin: str, source: Path | None) -> dict[str, Blob]:
    """Each member's bytes, or, for a big one when the zip is a file (``source``), a reference
    read again (and its CRC checked) when the member is stored."""
    budget = _Budget(origin)
    try:
        with zipfile.ZipFile(handle) as archive:
            files: dict[str, Blob] = {}
            for info in _checked_members(archive, budget):
                if source is None or budget.memory.take(info.file_size):
                    files[info.filename] = _read_member(archive, info, origin)
                else:
                    _check_readable(archive, info, origin)
                    files[info.filename] = ZipMember(str(source), info.filename, info.file_size)
            return files
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        _fail(origin, f"is not a valid zip file ({error})")


def _check_readable(archive: zipfile.ZipFile, info: zipfile.ZipInfo, origin: str) -> None:
    """Refuse now what reading would refuse later: encryption, an unknown compression method."""
    if info.flag_bits & 0x1:
        _fail(origin, f"zip entry {info.filename!r} cannot be read: it is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        _fail(origin, f"zip entry {info.filename!r} cannot be read: compression method {info.compress_type}")


def _checked_members(archive: zipfile.ZipFile, budget: _Budget) -> list[zipfile.ZipInfo]:
    origin = budget.origin
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        # zipfile cuts a name at its first NUL: the name as the zip holds it is the one checked.
        held = info.orig_filename
        problem = member_path_problem(held.rstrip("/") if info.is_dir() else held)
        if problem:
            _fail(origin, f"zip entry {held!r} {problem}")
        name = info.filename.rstrip("/") if info.is_dir() else info.filename
        if is_symlink_member(info):
            _fail(origin, f"zip entry {name!r} is a symbolic link, which bundles may not contain")
        budget.add(info.file_size)
        if info.is_dir() or _is_ignored(name):
            continue
        if name in members:
            _fail(origin, f"zip entry {name!r} appears twice")
        members[name] = info
    return list(members.values())


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, origin: str) -> bytes:
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as error:
        # RuntimeError: encrypted entry; NotImplementedError: unsupported compression method.
        _fail(origin, f"zip entry {info.filename!r} cannot be read: {error}")
    except Exception as error:  # zlib.error and friends: the data is damaged
        _fail(origin, f"zip entry {info.filename!r} is damaged: {error}")


# ---------------------------------------------------------------- folders


def _read_folder(root: Path, origin: str) -> dict[str, Blob]:
    real_root = os.path.realpath(root)
    files: dict[str, Blob] = {}
    _walk(_FolderWalk(real_root, origin, _Budget(origin), files), real_root, "", frozenset({real_root}))
    return files


@dataclass
class _FolderWalk:
    real_root: str
    origin: str
    budget: _Budget
    files: dict[str, Blob]

    def inside(self, real_path: str) -> bool:
        return os.path.commonpath([self.real_root, real_path]) == self.real_root


def _walk(walk: _FolderWalk, folder: str, prefix: str, ancestors: frozenset[str]) -> None:
    """Collect the files under ``folder``; ``ancestors`` are the real folders above, to detect loops."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        _fail(walk.origin, f"folder {prefix or '.'} cannot be listed: {error.strerror}")
    for entry in entries:
        _visit(walk, entry, prefix + entry.name, ancestors)


def _visit(walk: _FolderWalk, entry: os.DirEntry[str], relative: str, ancestors: frozenset[str]) -> None:
    if _is_ignored(relative):
        return
    problem = member_path_problem(relative)
    if problem:
        _fail(walk.origin, f"file name {relative!r} {problem}")
    real, mode = _resolve(walk, entry, relative)
    if stat.S_ISDIR(mode):
        if real in ancestors:
            _fail(walk.origin, f"symbolic link {relative} leads back into a folder that contains it (a loop)")
        walk.budget.add()
        _walk(walk, real, relative + "/", ancestors | {real})
    elif stat.S_ISREG(mode):
        walk.files[relative] = _read_regular_file(walk, real, relative)
    else:
        _fail(walk.origin, f"{relative} is not a regular file (device, pipe or socket)")


def _resolve(walk: _FolderWalk, entry: os.DirEntry[str], relative: str) -> tuple[str, int]:
    """The real path and mode behind ``entry``; links are followed only while they stay inside."""
    if not entry.is_symlink():
        return entry.path, entry.stat(follow_symlinks=False).st_mode  # folders walked are real paths
    real = os.path.realpath(entry.path)
    if not walk.inside(real):
        _fail(walk.origin, f"symbolic link {relative} points outside the bundle")
    try:
        return real, os.stat(real).st_mode
    except OSError:
        _fail(walk.origin, f"symbolic link {relative} is broken")


def _read_regular_file(walk: _FolderWalk, real: str, relative: str) -> Blob:
    try:
        size = os.stat(real).st_size
        walk.budget.add(size)  # before reading, so a huge file is refused unread
        if not walk.budget.memory.take(size):
            return FileSlice(real, 0, size)
        with open(real, "rb") as handle:
            return handle.read()
    except OSError as error:
        _fail(walk.origin, f"file {relative} cannot be read: {error.strerror}")


def _fail(origin: str, problem: str) -> NoReturn:
    raise BundleError(f"{origin}: {problem}")
