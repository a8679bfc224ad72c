"""One module's folder on a local front-end, and what one call did there so it can be undone.

``LocalTarget`` drives these a batch at a time. Each step writes without waiting for the disk
and returns what must reach it (``PendingWrites``); the target makes a whole batch durable with
one shared flush per step (``durability``).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from app.engine.durability import PendingWrites
from app.engine.files import PRIVATE_MODE, fsync_directory, temp_name_for, write_atomically, write_new_file
from app.engine.frontend.layout import (
    CONFIG,
    CURRENT,
    OWN_NAMES,
    RELEASE_INFO,
    RELEASES,
    STAGING_PREFIX,
    TEMP_PREFIXES,
    current_bytes,
    is_release_name,
    is_staging_name,
    is_work_file_name,
    parse_current,
    parse_release_info,
)
from app.engine.frontend.target import FrontendError, ReleaseFiles

_log = logging.getLogger(__name__)


@dataclass(eq=False)
class ModuleFolder:
    """``<front-end>/<module>``: checks, staging, switching, undoing, pruning and removal."""

    frontend: Path
    module: str
    location: str = ""  # how messages name the front-end; its path unless given
    previous_release: str | None = None
    previous_config: bytes | None = None
    created: list[Path] = field(default_factory=list)  # folders made by this call, outermost first
    staging: Path | None = None  # partial release being written
    staged: Path | None = None  # complete release created by this call, not yet live
    target: Path | None = None  # releases/<id> this call stages
    config_temp: Path | None = None  # the next config.json, written but not renamed into place yet
    current_temp: Path | None = None  # the next CURRENT, likewise
    switch_to: tuple[str | None, bytes | None] | None = None  # what the temps above hold
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
        self.location = self.location or str(self.frontend)

    def fail(self, problem: str) -> NoReturn:
        raise FrontendError(f"front-end {self.location}: {problem}")

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
        """Check the module folder holds only Deploy Center's own entries; read the live release.

        ``strict`` False allows foreign entries beside ``CURRENT`` and ``config.json`` (for a
        switch or a configuration change, which touch nothing else).
        """
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
        if name.startswith(TEMP_PREFIXES) and entry.is_file():
            os.unlink(entry.path)  # a temp file of an interrupted atomic write: ours, never read
        elif name in (CURRENT, CONFIG) and (entry.is_symlink() or not entry.is_file()):
            self.fail(f"{entry.path} is not a regular file; Deploy Center will not replace it")
        elif strict and name not in OWN_NAMES:
            self.fail(f"{entry.path} was not created by Deploy Center; move it away and deploy again")

    def _checked_current(self) -> str | None:
        release = self.read_current()
        if release is None:
            return None
        if not self.holds_release(release):
            self.fail(f"{self.current_file} names {release!r}, which is not a complete release")
        return release

    def holds_release(self, release: str) -> bool:
        return is_release_name(release) and read_release_info(self.releases / release) is not None

    def read_current(self) -> str | None:
        try:
            return parse_current(self.current_file.read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return None

    # -- staging

    def stage(self, release: ReleaseFiles) -> None:
        """Write the release into a hidden staging folder; nothing is flushed or visible yet.

        A release an earlier call already put in place is reused, not written again.
        """
        self._scan_releases(release.release_id)
        self.target = self.releases / release.release_id
        if not self._reusable(self.target, release):
            name = f"{STAGING_PREFIX}{release.release_id}-{os.getpid()}-{secrets.token_hex(4)}"
            self.staging = self.releases / name
            self.staging.mkdir()
            files, folders = _write_release(self.staging, release)
            self.unflushed.extend(files)
            self.unflushed_folders.extend(folders)

    def prepare_switch(self, release_id: str | None, config: bytes | None) -> None:
        """Write the next ``config.json`` and ``CURRENT`` under temp names; ``switch`` renames them."""
        self.switch_to = (release_id, config)
        if config != self.previous_config and config is not None:
            self.config_temp = self._write_temp(self.config_file, config, PRIVATE_MODE)
        if release_id != self.previous_release and release_id is not None:
            self.current_temp = self._write_temp(self.current_file, f"{release_id}\n".encode("ascii"))

    def _scan_releases(self, release_id: str) -> None:
        """One listing of ``releases``: clear staging leftovers, note the other own releases' age."""
        with os.scandir(self.releases) as listing:
            entries = list(listing)
        for entry in entries:
            if entry.name.startswith(STAGING_PREFIX) and entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            elif entry.name != release_id and is_release_name(entry.name) and entry.is_dir(follow_symlinks=False):
                try:
                    info = os.stat(os.path.join(entry.path, RELEASE_INFO))
                except (FileNotFoundError, NotADirectoryError):
                    continue  # no .release.json: not one of ours
                if stat.S_ISREG(info.st_mode):
                    self.other_releases[entry.name] = info.st_mtime_ns

    def _write_temp(self, target: Path, data: bytes, mode: int = 0o666) -> Path:
        temp = temp_name_for(target)
        write_new_file(temp, data, durable=False, mode=mode)
        self.unflushed.append(temp)
        return temp

    def take_staged_writes(self) -> PendingWrites:
        """What must be on disk before the release is renamed into place, or a switch is made."""
        files, self.unflushed = self.unflushed, []
        folders, self.unflushed_folders = self.unflushed_folders, []
        if self.config_temp is not None or self.current_temp is not None:
            folders.append(self.path)
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
        """Rename the prepared ``config.json`` and ``CURRENT`` into place; removes them for None."""
        assert self.switch_to is not None, "prepare_switch comes first"
        release_id, config = self.switch_to
        if self.config_temp is not None:
            replace_file(self.config_temp, self.config_file)
            self.config_temp, self.wrote_config = None, True
        elif config is None and self.previous_config is not None:
            self.config_file.unlink(missing_ok=True)
            self.wrote_config = True
        if self.current_temp is not None:
            replace_file(self.current_temp, self.current_file)
            self.current_temp, self.wrote_current = None, True
        elif release_id is None and self.previous_release is not None:
            self.current_file.unlink(missing_ok=True)  # CURRENT last: the module stops being served
            self.wrote_current = True
        if release_id is not None and self.target is None:
            self._mark_newest(self.releases / release_id)  # a switch to a release staged earlier

    def module_writes(self) -> PendingWrites:
        """What must be on disk before the caller records the switch: the module folder's entries."""
        return PendingWrites(self.frontend, [], [self.path])

    def _reusable(self, target: Path, release: ReleaseFiles) -> bool:
        """Whether an earlier call already put this exact release here (e.g. before a crash)."""
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            return False
        info = read_release_info(target) if stat.S_ISDIR(mode) else None
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

    def drop_temps(self) -> None:
        """Remove the next ``config.json`` and ``CURRENT`` this call prepared and did not rename."""
        for temp in (self.config_temp, self.current_temp):
            if temp is not None:
                temp.unlink(missing_ok=True)
        self.config_temp = self.current_temp = None

    def undo_staging(self) -> None:
        """Best effort: remove what this call created that is not live. Never raises."""
        try:
            self.drop_temps()
            if self.staging is not None:
                shutil.rmtree(self.staging, ignore_errors=True)
            if self.staged is not None and self.read_current() != self.staged.name:
                discard_release(self.staged)
            for folder in reversed(self.created):
                folder.rmdir()
        except OSError as error:
            _log.warning("front-end %s: could not clean up after a failed deployment: %s", self.location, error)

    def restore_previous(self) -> None:
        """Put back what ``switch`` replaced; raises OSError when it cannot."""
        if self.wrote_config:
            _restore(self.config_file, self.previous_config, PRIVATE_MODE)
        if self.wrote_current:
            _restore(self.current_file, current_bytes(self.previous_release), 0o666)

    # -- leftovers

    def leftovers(self) -> list[Path]:
        """Work files an interrupted call left here: temp files in the module folder, staging
        folders in ``releases``. Folders that are links are not looked into: they are not ours."""
        inside = _own_entries(self.path)
        if not inside:
            return []  # missing, empty, or not a real folder
        found = [Path(e.path) for e in inside if is_work_file_name(e.name) and e.is_file(follow_symlinks=False)]
        staging = _own_entries(self.releases)
        found += [Path(e.path) for e in staging if is_staging_name(e.name) and e.is_dir(follow_symlinks=False)]
        return found

    def remove_leftovers(self) -> list[Path]:
        """Remove what ``leftovers`` finds, the temp files this call prepared among them; what was removed."""
        found = self.leftovers()
        self.config_temp = self.current_temp = None
        for path in found:
            if path.parent == self.releases:
                shutil.rmtree(path)
            else:
                path.unlink()
        return found

    # -- pruning and removal

    def prune(self, protect: frozenset[str], keep: int) -> None:
        """Keep ``protect`` and the ``keep`` most recently deployed other releases.

        Works from the listing taken while staging when there was one: the module is locked,
        so no other release has come or gone since.
        """
        if not self.other_releases and self.target is None:
            self._scan_releases("")
        others = sorted((mtime, name) for name, mtime in self.other_releases.items() if name not in protect)
        for _mtime, name in others[: max(len(others) - keep, 0)]:
            discard_release(self.releases / name)

    def own_releases(self) -> list[Path]:
        return [
            entry
            for entry in self.releases.iterdir()
            if is_release_name(entry.name)
            and entry.is_dir()
            and not entry.is_symlink()
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
            if entry.name.startswith(TEMP_PREFIXES) and entry.is_file():
                entry.unlink()
        if self.releases.is_dir() and not self.releases.is_symlink():
            for entry in self.releases.iterdir():
                if entry.name.startswith(STAGING_PREFIX) and entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
            for release in self.own_releases():
                discard_release(release)
            _remove_if_empty(self.releases)
        _remove_if_empty(self.path)


# ---------------------------------------------------------------- file helpers


def _write_release(staging: Path, release: ReleaseFiles) -> tuple[list[str], list[str]]:
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
        write_new_file(path, data, durable=False)
        written.append(path)
    info = os.path.join(root, RELEASE_INFO)
    write_new_file(info, release.info, durable=False)
    written.append(info)
    return written, list(made.values())


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


def discard_release(release: Path) -> None:
    """Delete a release folder without ever leaving a half-deleted one that looks complete."""
    doomed = release.with_name(f"{STAGING_PREFIX}{release.name}-{os.getpid()}-{secrets.token_hex(4)}")
    os.rename(release, doomed)  # a crash now leaves a staging leftover, which the next deploy clears
    shutil.rmtree(doomed)


def _restore(path: Path, content: bytes | None, mode: int) -> None:
    if content is None:
        path.unlink(missing_ok=True)
        fsync_directory(path.parent)
    else:
        write_atomically(path, content, mode=mode)


def _own_entries(folder: Path) -> list[os.DirEntry[str]]:
    """The entries of ``folder`` when it is a real folder (not a link); none when it is missing."""
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return []
        with os.scandir(folder) as listing:
            return list(listing)
    except (FileNotFoundError, NotADirectoryError):
        return []


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


def read_release_info(release: Path) -> dict[str, Any] | None:
    """The parsed ``.release.json`` of a release folder, or None when it is missing or unreadable."""
    try:
        return parse_release_info((release / RELEASE_INFO).read_bytes())
    except OSError:
        return None
