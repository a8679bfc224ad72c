"""Making an artifact live on front-ends, all or nothing, without ever showing a half-written release.

Layout per front-end (contract, section 4)::

    <front-end>/<module>/releases/<release-id>/        complete content; never changed once live
    <front-end>/<module>/releases/<release-id>/.release.json
    <front-end>/<module>/CURRENT                        the live release id; replaced atomically
    <front-end>/<module>/config.json                    applied configuration; replaced atomically

A release is extracted into a hidden ``.staging-*`` folder and renamed into place only once complete
and on disk, so a folder ``releases/<id>`` with a ``.release.json`` is always whole. Only when every
front-end holds the release do the ``CURRENT`` files switch; a failure before that leaves every
front-end on its previous release. The deployer deletes only what it created: release folders with a
``.release.json``, its own staging and temp names, ``CURRENT`` and ``config.json``.

Durability comes in three ordered steps, each one disk flush shared with every other module being
deployed at the same time (``durability``): the staged files and the new ``CURRENT``/``config.json``
contents are on disk before the release is renamed into place; that rename is on disk before
``CURRENT`` switches; and the switch is on disk before ``deploy_release`` returns, so the caller may
record the module as deployed. ``prepare_release`` does the writing and returns at once;
``PreparedRelease.finish`` does the waiting, so a worker can prepare the next module meanwhile.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import shutil
import stat
import struct
import time
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from app.engine.artifacts import (
    ArtifactCorruptError,
    fsync_directory,
    is_symlink_member,
    member_path_problem,
    sha256_hex,
    temp_name_for,
    write_atomically,
)
from app.engine.artifacts import write_new_file as create_file
from app.engine.bundle import NAME_PATTERN
from app.engine.durability import PendingWrites, flush_filesystems, flush_group, make_durable
from app.engine.errors import DeployCenterError

RELEASES = "releases"
CURRENT = "CURRENT"
CONFIG = "config.json"
RELEASE_INFO = ".release.json"
STAGING_PREFIX = ".staging-"
_TEMP_PREFIXES = (f".{CURRENT}.tmp-", f".{CONFIG}.tmp-")  # names write_atomically uses
_OWN_NAMES = frozenset({RELEASES, CURRENT, CONFIG})

_log = logging.getLogger(__name__)


class FrontendError(DeployCenterError):
    """A front-end cannot take the deployment; the message names the front-end and the path."""

    exit_code = 1


@dataclass(frozen=True)
class ReleaseRequest:
    module: str
    version: int
    platform: str
    artifact_sha256: str
    config: Mapping[str, str]


@dataclass(frozen=True)
class Drift:
    """One difference between a front-end and what the environment expects there."""

    frontend: str
    module: str
    problem: str


def release_id_for(version: int, platform: str, artifact_sha256: str) -> str:
    """A deterministic, filesystem-safe release folder name, e.g. ``v3-11.19.0-1a2b3c4d5e6f``."""
    safe_platform = re.sub(r"[^A-Za-z0-9._-]", "_", platform)
    return f"v{version}-{safe_platform}-{artifact_sha256[:12]}"


# ---------------------------------------------------------------- public operations


def deploy_release(
    frontends: Sequence[Path],
    request: ReleaseRequest,
    artifact: bytes,
    keep: int = 2,
    *,
    defer_switch_flush: bool = False,
) -> str:
    """Make ``artifact`` the live release of ``request.module`` on every front-end; return its id.

    ``keep`` previous releases stay on disk next to the live one for a quick manual rollback.
    With ``defer_switch_flush`` the switch may not be on disk yet when this returns: the caller
    calls ``flush_frontends`` once for many deploys before it records them as deployed.
    """
    return prepare_release(frontends, request, artifact, keep).finish(flush_switch=not defer_switch_flush)


def flush_frontends(frontends: Sequence[Path]) -> None:
    """Make the switches of deploys made with ``defer_switch_flush`` durable: one flush per filesystem."""
    flush_filesystems(Path(frontend) for frontend in frontends)


def prepare_release(
    frontends: Sequence[Path], request: ReleaseRequest, artifact: bytes, keep: int = 2
) -> PreparedRelease:
    """Check every front-end and write the release there, hidden; ``finish()`` makes it live.

    Nothing is visible to a front-end until ``finish``; a failure here leaves no trace. Call
    ``finish`` or ``abandon`` on the result.
    """
    if keep < 0:
        raise ValueError("keep must be zero or more")
    _check_module_name(request.module)
    release_id = release_id_for(request.version, request.platform, request.artifact_sha256)
    release = _ReleaseContent.from_artifact(request, artifact)
    folders = [_ModuleFolder(Path(frontend), request.module) for frontend in _distinct(frontends)]
    _stage_everywhere(folders, release_id, release, _config_bytes(request.config))
    return PreparedRelease(release_id, folders, keep)


class PreparedRelease:
    """A release written on every front-end but not live yet; ``finish`` waits for the disk and switches."""

    def __init__(self, release_id: str, folders: list[_ModuleFolder], keep: int) -> None:
        self.release_id = release_id
        self._folders = folders
        self._keep = keep

    def finish(self, flush_switch: bool = True) -> str:
        """Make the release durable, put it in place and switch ``CURRENT`` everywhere; all or nothing.

        ``flush_switch`` False leaves the switch's flush to ``flush_frontends`` where one shared
        flush per filesystem will do it; with per-file fsync it is done here all the same.
        """
        outcome = finish_releases([self], flush_switch=flush_switch)[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    @property
    def folders(self) -> list[_ModuleFolder]:
        return self._folders

    def place(self) -> None:
        """Rename the staged release into ``releases/<id>`` on every front-end."""
        for folder in self._folders:
            with folder.reporting():
                folder.place()

    def switch(self) -> None:
        _switch_everywhere(self._folders)

    def prune(self) -> None:
        for folder in self._folders:
            folder.prune(self.release_id, self._keep)

    def abandon(self) -> None:
        """Remove what was prepared; the front-ends stay on their previous release. Never raises."""
        for folder in self._folders:
            folder.undo_staging()


def finish_releases(
    prepared: Sequence[PreparedRelease], *, flush_switch: bool = True
) -> list[str | DeployCenterError]:
    """Finish many prepared releases together, each all or nothing; per release, its id or its error.

    The three ordered flushes are each shared by the whole batch, so a batch of modules waits for
    the disk three times instead of three times per module. A release that fails at a step is
    abandoned and leaves its module on its previous release; the others carry on. A flush that
    fails fails every release still waiting on it: none of their writes can be trusted.
    """
    results: list[str | DeployCenterError | None] = [None] * len(prepared)
    going = list(range(len(prepared)))

    def step(action: Any, undo: bool = True) -> None:
        nonlocal going
        kept = []
        for index in going:
            try:
                action(prepared[index])
            except DeployCenterError as error:
                if undo:
                    prepared[index].abandon()
                results[index] = error
            else:
                kept.append(index)
        going = kept

    def flush(writes_of: Any, undo: bool = True) -> None:
        nonlocal going
        if not going:
            return
        folders = [folder for index in going for folder in prepared[index].folders]
        try:
            _make_durable(folders, [writes_of(folder) for folder in folders])
        except DeployCenterError as error:
            for index in going:
                if undo:
                    prepared[index].abandon()
                results[index] = error
            going = []

    try:
        flush(lambda folder: folder.take_staged_writes())
        step(PreparedRelease.place)
        flush(lambda folder: folder.releases_writes())
    except BaseException:
        for index in going:
            prepared[index].abandon()
        raise
    step(PreparedRelease.switch, undo=False)  # a failed switch has put the previous release back
    if flush_switch or any(flush_group(f.frontend) is None for i in going for f in prepared[i].folders):
        flush(lambda folder: folder.module_writes(), undo=False)
    for index in going:
        prepared[index].prune()
        results[index] = prepared[index].release_id
    finished = [result for result in results if result is not None]
    assert len(finished) == len(prepared), "every release ends with its id or its error"
    return finished


def _make_durable(folders: list[_ModuleFolder], writes: list[PendingWrites]) -> None:
    """One shared flush per filesystem, or fsyncs where that is not available; errors name the path."""
    try:
        make_durable(writes)
    except OSError as error:
        where = str(error.filename or "")
        folder = next((f for f in folders if where.startswith(str(f.frontend))), folders[0])
        folder.fail(f"{where or folder.path}: {error.strerror or error}")


def apply_config(frontends: Sequence[Path], module: str, config: Mapping[str, str]) -> None:
    """Rewrite ``config.json`` on every front-end where ``module`` is live; all or nothing."""
    _check_module_name(module)
    folders = [_ModuleFolder(Path(frontend), module) for frontend in _distinct(frontends)]
    for folder in folders:
        with folder.reporting():
            folder.inspect(strict=False)
    live = [folder for folder in folders if folder.previous_release is not None]
    data = _config_bytes(config)
    done: list[_ModuleFolder] = []
    try:
        for folder in live:
            with folder.reporting():
                write_atomically(folder.config_file, data)
                done.append(folder)
    except FrontendError:
        for folder in done:
            folder.restore_config()
        raise


def remove_module(frontends: Sequence[Path], module: str) -> None:
    """Delete what the deployer created for ``module``; foreign files and their folders stay."""
    _check_module_name(module)
    for frontend in _distinct(frontends):
        folder = _ModuleFolder(Path(frontend), module)
        with folder.reporting():
            folder.check_frontend()
            folder.remove_own_files()


def read_current(frontend: Path, module: str) -> str | None:
    """The live release id of ``module`` on ``frontend``, or None when it is not deployed there."""
    _check_module_name(module)
    folder = _ModuleFolder(Path(frontend), module)
    with folder.reporting():
        return folder.read_current()


def release_files(frontend: Path, module: str, release_id: str) -> dict[str, str]:
    """The ``files`` map (relative path -> sha256) recorded in a release's ``.release.json``."""
    _check_module_name(module)
    info = _read_release_info(Path(frontend) / module / RELEASES / release_id)
    return dict(info["files"]) if info else {}


def verify_module(
    frontend: Path, module: str, expected_release: str | None, expected_sha: str | None
) -> list[Drift]:
    """Compare a front-end with the environment's records; an empty list means no drift.

    ``expected_release`` None means no release should be live there. ``expected_sha`` None skips the
    artifact check. Every file of the live release is re-hashed.
    """
    _check_module_name(module)
    folder = _ModuleFolder(Path(frontend), module)
    problems = list(_verify_problems(folder, expected_release, expected_sha))
    return [Drift(frontend=str(frontend), module=module, problem=problem) for problem in problems]


# ---------------------------------------------------------------- release content


@dataclass(frozen=True)
class _ReleaseContent:
    """The files of a release, read and checked once for all front-ends."""

    artifact_sha256: str
    files: dict[str, bytes]
    info: bytes

    @classmethod
    def from_artifact(cls, request: ReleaseRequest, artifact: bytes) -> _ReleaseContent:
        sha = request.artifact_sha256
        if sha256_hex(artifact) != sha:
            raise ArtifactCorruptError(f"artifact {sha} does not match its sha256; it will not be deployed")
        files = _artifact_files(sha, artifact)
        info = {
            "module": request.module,
            "version": request.version,
            "platform": request.platform,
            "artifact_sha256": sha,
            "files": {name: sha256_hex(data) for name, data in files.items()},
        }
        # One line: json's C encoder does not indent, and this file is read by programs.
        text = json.dumps(info, sort_keys=True, separators=(",", ":")) + "\n"
        return cls(artifact_sha256=sha, files=files, info=text.encode("utf-8"))


def _artifact_files(sha: str, artifact: bytes) -> dict[str, bytes]:
    """Artifact members, refused if any could land outside the release folder (zip-slip)."""
    try:
        with zipfile.ZipFile(io.BytesIO(artifact)) as archive:
            view = memoryview(artifact)
            return {info.filename: _member_bytes(view, archive, info) for info in _safe_members(sha, archive)}
    except (zipfile.BadZipFile, EOFError, ValueError, zlib.error) as error:
        raise ArtifactCorruptError(f"artifact {sha} is not a readable zip: {error}") from None


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local header, as in zipfile
_LOCAL_MAGIC = b"PK\x03\x04"


def _member_bytes(artifact: memoryview, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member's content, with its CRC checked.

    Stored and deflated members are sliced out of the artifact and inflated in one call, which
    is several times cheaper than ``ZipFile.read``'s file object per member; anything else
    (other compression, encryption) goes through ``ZipFile.read``.
    """
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return archive.read(info)
    header = _LOCAL_HEADER.unpack_from(artifact, info.header_offset)
    if header[0] != _LOCAL_MAGIC:
        raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
    start = info.header_offset + _LOCAL_HEADER.size + header[10] + header[11]  # name and extra lengths
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
        problem = member_path_problem(info.filename)
        if problem is None and is_symlink_member(info):
            problem = "is a symbolic link"
        if problem is None and info.filename in seen | {RELEASE_INFO}:
            problem = "would overwrite another file"
        if problem is not None:
            raise ArtifactCorruptError(f"artifact {sha}: entry {info.filename!r} {problem}")
        seen.add(info.filename)
        yield info


def effective_config(defaults: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """A module's configuration: its defaults, with the applied values for keys it still declares."""
    config = dict(defaults)
    config.update({key: value for key, value in overrides.items() if key in defaults})
    return config


def _config_bytes(config: Mapping[str, str]) -> bytes:
    return (json.dumps(dict(config), sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# ---------------------------------------------------------------- all-or-nothing phases


def _stage_everywhere(
    folders: list[_ModuleFolder], release_id: str, release: _ReleaseContent, config: bytes
) -> None:
    """Write the complete release, and the next ``CURRENT`` and ``config.json``, on every front-end or none."""
    try:
        for folder in folders:
            with folder.reporting():
                folder.inspect(strict=True, create=True)
                folder.stage(release_id, release, config)
    except BaseException:
        for folder in folders:
            folder.undo_staging()
        raise


def _switch_everywhere(folders: list[_ModuleFolder]) -> None:
    """Rename the prepared config.json and CURRENT into place everywhere; put back the switched ones on failure."""
    try:
        for folder in folders:
            with folder.reporting():
                folder.switch()
    except BaseException:
        for folder in folders:
            if folder.restore_previous():  # a release still named by CURRENT must stay on disk
                folder.undo_staging()
        raise


# ---------------------------------------------------------------- one module on one front-end


@dataclass(eq=False)
class _ModuleFolder:
    """``<front-end>/<module>``, and what this call did there so it can be undone."""

    frontend: Path
    module: str
    previous_release: str | None = None
    previous_config: bytes | None = None
    created: list[Path] = field(default_factory=list)  # folders made by this call, outermost first
    staging: Path | None = None  # partial release being written
    staged: Path | None = None  # complete release created by this call, not yet live
    target: Path | None = None  # releases/<id> this call deploys
    config_temp: Path | None = None  # the next config.json, written but not renamed into place yet
    current_temp: Path | None = None  # the next CURRENT, likewise
    unflushed: list[str | Path] = field(default_factory=list)  # files written and not yet made durable
    unflushed_folders: list[str | Path] = field(default_factory=list)  # folders whose entries changed
    other_releases: dict[str, int] = field(default_factory=dict)  # own releases -> .release.json mtime
    wrote_config: bool = False
    wrote_current: bool = False
    path: Path = field(init=False)  # <front-end>/<module>
    releases: Path = field(init=False)
    current_file: Path = field(init=False)
    config_file: Path = field(init=False)

    def __post_init__(self) -> None:
        # Computed once: joining paths is a good part of the Python time of a deploy.
        self.path = self.frontend / self.module
        self.releases = self.path / RELEASES
        self.current_file = self.path / CURRENT
        self.config_file = self.path / CONFIG

    def fail(self, problem: str) -> NoReturn:
        raise FrontendError(f"front-end {self.frontend}: {problem}")

    @contextmanager
    def reporting(self) -> Iterator[None]:
        """Turn an OSError (disk full, permission denied, ...) into a FrontendError naming the path."""
        try:
            yield
        except OSError as error:
            where = error.filename if error.filename is not None else self.path
            self.fail(f"{where}: {error.strerror or error}")

    # -- checks

    def check_frontend(self) -> None:
        try:
            mode = os.stat(self.frontend).st_mode
        except (FileNotFoundError, NotADirectoryError):
            self.fail("folder does not exist")
        if not stat.S_ISDIR(mode):
            self.fail("is not a folder")

    def inspect(self, strict: bool, create: bool = False) -> None:
        """Check the module folder holds only the deployer's own entries; read the live release."""
        self.check_frontend()
        if not self._own_folder(self.path, create):
            return
        with os.scandir(self.path) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
        for entry in entries:  # DirEntry answers from the listing: no extra system call per entry
            self._check_entry(entry, strict)
        self._own_folder(self.releases, create)
        self.previous_release = self._checked_current()
        self.previous_config = _read_if_file(self.config_file)

    def _own_folder(self, path: Path, create: bool) -> bool:
        """Whether ``path`` is a usable folder; create it when asked. Anything else there fails."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            if not create:
                return False
            path.mkdir()
            self.created.append(path)
            return True
        if stat.S_ISLNK(mode):
            self.fail(f"{path} is a symbolic link, but Deploy Center needs its own folder there; move it away")
        if not stat.S_ISDIR(mode):
            self.fail(f"{path} is a file, but Deploy Center needs a folder there; move it away")
        return True

    def _check_entry(self, entry: os.DirEntry[str], strict: bool) -> None:
        name = entry.name
        if name.startswith(_TEMP_PREFIXES) and entry.is_file():
            os.unlink(entry.path)  # a temp file of an interrupted atomic write: ours, never read
        elif name in (CURRENT, CONFIG) and (entry.is_symlink() or not entry.is_file()):
            self.fail(f"{entry.path} is not a regular file; Deploy Center will not replace it")
        elif strict and name not in _OWN_NAMES:
            self.fail(f"{entry.path} was not created by Deploy Center; move it away and deploy again")

    def _checked_current(self) -> str | None:
        release = self.read_current()
        if release is None:
            return None
        if not _is_release_name(release) or _read_release_info(self.releases / release) is None:
            self.fail(f"{self.current_file} names {release!r}, which is not a complete release")
        return release

    def read_current(self) -> str | None:
        try:
            text = self.current_file.read_text(encoding="utf-8", errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            return None
        return text.strip() or None

    # -- staging

    def stage(self, release_id: str, release: _ReleaseContent, config: bytes) -> None:
        """Write the release into a hidden staging folder, and the next config.json and CURRENT
        under temp names; nothing is flushed or visible yet. Unchanged files are not rewritten."""
        self._scan_releases(release_id)
        self.target = self.releases / release_id
        if not self._reusable(self.target, release):
            self.staging = self.releases / f"{STAGING_PREFIX}{release_id}-{os.getpid()}-{secrets.token_hex(4)}"
            self.staging.mkdir()
            files, folders = _write_release(self.staging, release)
            self.unflushed.extend(files)
            self.unflushed_folders.extend(folders)
        if config != self.previous_config:
            self.config_temp = self._write_temp(self.config_file, config)
        if release_id != self.previous_release:
            self.current_temp = self._write_temp(self.current_file, f"{release_id}\n".encode("ascii"))

    def _scan_releases(self, release_id: str) -> None:
        """One listing of ``releases``: clear staging leftovers, note the other own releases' age."""
        with os.scandir(self.releases) as listing:
            entries = list(listing)
        for entry in entries:
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            elif entry.name != release_id and _is_release_name(entry.name) and entry.is_dir(follow_symlinks=False):
                try:
                    info = os.stat(os.path.join(entry.path, RELEASE_INFO))
                except (FileNotFoundError, NotADirectoryError):
                    continue  # no .release.json: not one of ours
                if stat.S_ISREG(info.st_mode):
                    self.other_releases[entry.name] = info.st_mtime_ns

    def _write_temp(self, target: Path, data: bytes) -> Path:
        temp = temp_name_for(target)
        write_new_file(temp, data)
        self.unflushed.append(temp)
        return temp

    def take_staged_writes(self) -> PendingWrites:
        """What must be on disk before the release is renamed into place."""
        files, self.unflushed = self.unflushed, []
        folders, self.unflushed_folders = self.unflushed_folders, []
        if files:
            folders.append(self.path)  # the temp CURRENT and config.json, when written
        return PendingWrites(self.frontend, files, [*folders, *(path.parent for path in self.created)])

    def place(self) -> None:
        """Rename the staged release to ``releases/<id>``: it is complete and on disk."""
        if self.staging is None or self.target is None:
            return  # reused: an earlier call already placed this exact release
        os.rename(self.staging, self.target)
        self.staged, self.staging = self.target, None
        self._mark_newest(self.target)

    def releases_writes(self) -> PendingWrites:
        """What must be on disk before CURRENT may name the release: the rename and created folders."""
        return PendingWrites(self.frontend, [], [self.releases, *(path.parent for path in self.created)])

    def switch(self) -> None:
        if self.config_temp is not None:
            replace_file(self.config_temp, self.config_file)
            self.config_temp, self.wrote_config = None, True
        if self.current_temp is not None:
            replace_file(self.current_temp, self.current_file)
            self.current_temp, self.wrote_current = None, True

    def module_writes(self) -> PendingWrites:
        """What must be on disk before the caller records the module as deployed: the switch."""
        return PendingWrites(self.frontend, [], [self.path])

    def _reusable(self, target: Path, release: _ReleaseContent) -> bool:
        """Whether an earlier call already put this exact release here (e.g. before a crash)."""
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            return False
        info = _read_release_info(target) if stat.S_ISDIR(mode) else None
        if info is None:
            self.fail(f"{target} exists but was not created by Deploy Center; move it away")
        if info.get("artifact_sha256") != release.artifact_sha256:
            self.fail(f"{target} holds a different artifact under the same release id")
        self._mark_newest(target)
        return True

    def _mark_newest(self, release: Path) -> None:
        """Record deploy order in .release.json's mtime, strictly after every other release's.

        Clock ticks are coarse (milliseconds), so two quick deploys could otherwise tie.
        """
        stamp = max([time.time_ns(), *(mtime + 1 for mtime in self.other_releases.values())])
        os.utime(release / RELEASE_INFO, ns=(stamp, stamp))

    def _remove_leftover_staging(self) -> None:
        for entry in self.releases.iterdir():
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)

    def undo_staging(self) -> None:
        """Best effort: remove what this call created that is not live. Never raises."""
        try:
            for temp in (self.config_temp, self.current_temp):
                if temp is not None:
                    temp.unlink(missing_ok=True)
            self.config_temp = self.current_temp = None
            if self.staging is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
            if self.staged is not None:
                _discard_release(self.staged)
            for folder in reversed(self.created):
                folder.rmdir()
        except OSError as error:
            _log.warning("front-end %s: could not clean up after a failed deployment: %s", self.frontend, error)

    # -- switching back

    def restore_previous(self) -> bool:
        """Put back what this call switched; True when CURRENT no longer names the new release."""
        if self.wrote_config:
            self.restore_config()
        if not self.wrote_current:
            return True
        try:
            self._restore(self.current_file, _current_bytes(self.previous_release))
            return True
        except OSError as error:
            _log.error("front-end %s: could not restore %s: %s", self.frontend, self.current_file, error)
            return False

    def restore_config(self) -> None:
        try:
            self._restore(self.config_file, self.previous_config)
        except OSError as error:
            _log.error("front-end %s: could not restore %s: %s", self.frontend, self.config_file, error)

    @staticmethod
    def _restore(path: Path, content: bytes | None) -> None:
        if content is None:
            path.unlink(missing_ok=True)
            fsync_directory(path.parent)
        else:
            write_atomically(path, content)

    # -- pruning and removal

    def prune(self, live: str, keep: int) -> None:
        """Keep the live release and the ``keep`` most recently deployed others; best effort.

        Works from the listing taken while staging: the module is locked, so no other release
        has come or gone since.
        """
        try:
            others = sorted((mtime, name) for name, mtime in self.other_releases.items() if name != live)
            for _mtime, name in others[: max(len(others) - keep, 0)]:
                _discard_release(self.releases / name)
        except OSError as error:
            _log.warning("front-end %s: could not prune old releases of %s: %s", self.frontend, self.module, error)

    def _own_releases(self) -> list[Path]:
        return [
            entry
            for entry in self.releases.iterdir()
            if _is_release_name(entry.name) and entry.is_dir() and not entry.is_symlink()
            and (entry / RELEASE_INFO).is_file()
        ]

    def remove_own_files(self) -> None:
        if self.path.is_symlink() or not self.path.is_dir():
            return  # nothing of ours: absent, or something foreign we must not touch
        for own in (self.current_file, self.config_file):
            if own.is_file() and not own.is_symlink():
                own.unlink()  # CURRENT first: the front-end stops serving before content goes
        fsync_directory(self.path)
        for entry in self.path.iterdir():
            if entry.name.startswith(_TEMP_PREFIXES) and entry.is_file():
                entry.unlink()
        if self.releases.is_dir() and not self.releases.is_symlink():
            self._remove_leftover_staging()
            for release in self._own_releases():
                _discard_release(release)
            _remove_if_empty(self.releases)
        _remove_if_empty(self.path)


# ---------------------------------------------------------------- file helpers


def _write_release(staging: Path, release: _ReleaseContent) -> tuple[list[str], list[str]]:
    """Write every file and ``.release.json`` under ``staging``; returns the files and the folders
    made for them, none flushed yet. Plain strings: path objects cost more than the writes here."""
    root = os.fspath(staging)
    made = {"": root}
    written = []
    for name, data in release.files.items():
        parent, _, _ = name.rpartition("/")
        if parent not in made:
            _make_parents(parent, made)
        path = f"{root}/{name}"
        write_new_file(path, data)
        written.append(path)
    info = os.path.join(root, RELEASE_INFO)
    write_new_file(info, release.info)
    written.append(info)
    return written, list(made.values())


def write_new_file(path: str | Path, data: bytes) -> None:
    """Create ``path`` without waiting for the disk; ``make_durable`` flushes many files at once later."""
    create_file(path, data, durable=False)


def replace_file(temp: Path, target: Path) -> None:
    """Rename a prepared, flushed temp file over ``target``: readers see the old or the new content."""
    os.replace(temp, target)


def _make_parents(folder: str, made: dict[str, str]) -> None:
    """Create ``folder`` (relative, posix) and its missing parents under ``made[""]``."""
    missing: list[str] = []
    while folder not in made:
        missing.append(folder)
        folder = folder.rpartition("/")[0]
    for relative in reversed(missing):
        path = f"{made['']}/{relative}"
        os.mkdir(path)
        made[relative] = path


def _discard_release(release: Path) -> None:
    """Delete a release folder without ever leaving a half-deleted one that looks complete."""
    doomed = release.with_name(f"{STAGING_PREFIX}{release.name}-{os.getpid()}-{secrets.token_hex(4)}")
    os.rename(release, doomed)  # a crash now leaves a staging leftover, which the next deploy clears
    shutil.rmtree(doomed)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # foreign files remain inside: the folder stays with them


def _read_if_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _current_bytes(release: str | None) -> bytes | None:
    return None if release is None else f"{release}\n".encode("ascii")


def _read_release_info(release: Path) -> dict[str, Any] | None:
    """The parsed ``.release.json`` of a release folder, or None when it is missing or unreadable."""
    try:
        info = json.loads((release / RELEASE_INFO).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("files"), dict):
        return None
    return info


def _is_release_name(name: str) -> bool:
    return bool(name) and not name.startswith(".") and "/" not in name and "\\" not in name


def _check_module_name(module: str) -> None:
    # Names are validated when published; checked again because they become folder names here.
    if not NAME_PATTERN.match(module):
        raise ValueError(f"not a valid module name: {module!r}")


def _distinct(frontends: Sequence[Path]) -> list[Path]:
    """Front-ends without repeats: one folder listed twice must not be staged twice."""
    if len(frontends) == 1:
        return [Path(frontends[0])]
    seen: dict[str, Path] = {}
    for frontend in frontends:
        seen.setdefault(os.path.realpath(frontend), Path(frontend))
    return list(seen.values())


# ---------------------------------------------------------------- verification


def _verify_problems(folder: _ModuleFolder, expected_release: str | None, expected_sha: str | None) -> Iterator[str]:
    if not folder.frontend.is_dir():
        yield "front-end folder missing"
        return
    live = folder.read_current() if folder.path.is_dir() else None
    if live is None:
        if expected_release is not None:
            yield "CURRENT missing"
        return
    if expected_release is None:
        yield f"CURRENT is {live} but no release is expected"
    elif live != expected_release:
        yield f"CURRENT is {live} but {expected_release} expected"
    yield from _release_problems(folder.releases, live, expected_sha)


def _release_problems(releases: Path, live: str, expected_sha: str | None) -> Iterator[str]:
    info = _read_release_info(releases / live) if _is_release_name(live) else None
    if info is None:
        yield f"release {live} is missing or has no readable {RELEASE_INFO}"
        return
    recorded = info.get("artifact_sha256")
    if expected_sha is not None and recorded != expected_sha:
        yield f"release {live} holds artifact {str(recorded)[:12]} but {expected_sha[:12]} expected"
    yield from _file_problems(releases / live, info["files"])


def _file_problems(release: Path, recorded: Mapping[str, str]) -> Iterator[str]:
    present = _files_on_disk(release)
    for name in sorted(recorded):
        if name not in present:
            yield f"file {name} missing"
        elif _hash_file(present[name]) != recorded[name]:
            yield f"file {name} changed"
    for name in sorted(set(present) - set(recorded) - {RELEASE_INFO}):
        yield f"file {name} is extra"


def _files_on_disk(release: Path) -> dict[str, Path]:
    """Every non-folder entry under ``release`` by relative posix path; links are not followed."""
    found: dict[str, Path] = {}
    for folder, subfolders, names in os.walk(release):
        base = Path(folder)
        for name in names + [sub for sub in subfolders if (base / sub).is_symlink()]:
            found[(base / name).relative_to(release).as_posix()] = base / name
    return found


def _hash_file(path: Path) -> str | None:
    if path.is_symlink() or not path.is_file():
        return None  # a link or special file where a file was written counts as changed
    try:
        return sha256_hex(path.read_bytes())
    except OSError:
        return None
