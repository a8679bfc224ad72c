"""A front-end that is a folder on this machine: the first implementation of ``FrontendTarget``.

Durability comes in ordered steps, each one disk flush shared by every module of the batch and
by every other batch in flight on the same filesystem (``durability``): staged files and the
next ``CURRENT``/``config.json`` are on disk before the release is renamed into place; that
rename is on disk before ``CURRENT`` switches; and ``flush`` puts the switches on disk before the
run records them. Where ``syncfs`` is missing, each file and folder is fsynced instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from app.engine.blobs import file_sha256
from app.engine.durability import PendingWrites, flush_filesystems, flush_group, make_durable
from app.engine.files import PRIVATE_MODE, fsync_directory, write_atomically
from app.engine.frontend.layout import (
    CURRENT,
    OWNER_FILE,
    RELEASE_INFO,
    check_module_name,
    is_release_name,
    parse_current,
    parse_release_info,
)
from app.engine.frontend.local.module_folder import ModuleFolder, discard_release, read_release_info
from app.engine.frontend.target import (
    FrontendError,
    LiveRelease,
    Prune,
    ReleaseFiles,
    ReleaseMeta,
    Staged,
    StageResult,
    Switch,
    TargetStats,
)

_log = logging.getLogger(__name__)


class LocalTarget:
    """``FrontendTarget`` for a folder. Safe to share between threads that work on different modules."""

    def __init__(self, name: str, path: str | Path) -> None:
        self._name = name
        self.path = Path(path)
        self._open: dict[str, ModuleFolder] = {}  # modules staged here and not finished yet
        self._lock = threading.Lock()
        self._syncs = 0  # disk flushes waited for (each may be shared with other writers: durability)

    @property
    def name(self) -> str:
        return self._name

    @property
    def location(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"LocalTarget({self._name!r}, {self.location!r})"

    def _folder(self, module: str) -> ModuleFolder:
        check_module_name(module)
        return ModuleFolder(self.path, module, self.location)

    def check(self) -> None:
        folder = ModuleFolder(self.path, "_", self.location)
        with folder.reporting():
            folder.check_frontend()

    # -- reading

    def read_current(self, modules: Sequence[str]) -> dict[str, str | None]:
        """Read with as few system calls as possible: the planner reads every live module."""
        base = os.fspath(self.path)
        found: dict[str, str | None] = {}
        for module in modules:
            check_module_name(module)
            path = os.path.join(base, module, CURRENT)
            try:
                fd = os.open(path, os.O_RDONLY)
            except (FileNotFoundError, NotADirectoryError):
                found[module] = None
                continue
            except OSError as error:
                raise FrontendError(f"front-end {self.location}: {path}: {error.strerror}") from None
            try:
                found[module] = parse_current(os.read(fd, 512))
            except OSError as error:
                raise FrontendError(f"front-end {self.location}: {path}: {error.strerror}") from None
            finally:
                os.close(fd)
        return found

    def read_config(self, modules: Sequence[str]) -> dict[str, bytes | None]:
        configs: dict[str, bytes | None] = {}
        for module in modules:
            folder = self._folder(module)
            with folder.reporting():
                folder.inspect(strict=False)
            configs[module] = folder.previous_config
        return configs

    def list_releases(self, modules: Sequence[str]) -> dict[str, list[ReleaseMeta]]:
        found: dict[str, list[ReleaseMeta]] = {}
        for module in modules:
            folder = self._folder(module)
            metas = []
            with folder.reporting():
                try:
                    entries = list(os.scandir(folder.releases))
                except (FileNotFoundError, NotADirectoryError):
                    entries = []
                for entry in entries:
                    if not (is_release_name(entry.name) and entry.is_dir(follow_symlinks=False)):
                        continue
                    meta = _release_meta(module, Path(entry.path))
                    if meta is not None:
                        metas.append(meta)
            found[module] = sorted(metas, key=lambda meta: meta.order)
        return found

    def release_sizes(self, modules: Sequence[str]) -> dict[str, dict[str, int]]:
        sizes: dict[str, dict[str, int]] = {}
        for module, metas in self.list_releases(modules).items():
            folder = self._folder(module)
            with folder.reporting():
                sizes[module] = {meta.release_id: _folder_bytes(folder.releases / meta.release_id) for meta in metas}
        return sizes

    def read_live(self, modules: Sequence[str]) -> list[LiveRelease]:
        self.check()
        live = []
        for module in modules:
            folder = self._folder(module)
            release = folder.read_current() if folder.path.is_dir() else None
            if release is None or not is_release_name(release):
                live.append(LiveRelease(module, release, None))
                continue
            where = folder.releases / release
            info = read_release_info(where)
            live.append(LiveRelease(module, release, info, _hashes(where) if info is not None else {}))
        return live

    # -- deploying

    def stage(self, releases: Sequence[ReleaseFiles]) -> list[StageResult]:
        results: list[StageResult | None] = [None] * len(releases)
        going: list[tuple[int, ModuleFolder]] = []
        try:
            for index, release in enumerate(releases):
                folder = self._folder(release.module)
                try:
                    with folder.reporting():
                        folder.inspect(strict=True, create=True)
                        folder.stage(release)
                        folder.prepare_switch(release.release_id, release.config)
                except FrontendError as error:
                    folder.undo_staging()
                    results[index] = error
                else:
                    going.append((index, folder))
            going = self._flush_step(going, results, ModuleFolder.take_staged_writes)
            going = self._each(going, results, ModuleFolder.place)
            going = self._flush_step(going, results, ModuleFolder.releases_writes)
        except BaseException:
            for _index, folder in going:
                folder.undo_staging()
            raise
        with self._lock:
            for index, folder in going:
                self._open[folder.module] = folder
                results[index] = Staged(
                    folder.module,
                    releases[index].release_id,
                    folder.previous_release,
                    folder.previous_config,
                    created=folder.staged is not None,
                )
        done = [result for result in results if result is not None]
        assert len(done) == len(releases), "every release ends staged or with its error"
        return done

    def switch(self, switches: Sequence[Switch]) -> list[FrontendError | None]:
        results: list[FrontendError | None] = [None] * len(switches)
        going: list[tuple[int, ModuleFolder]] = []
        fresh: list[tuple[int, ModuleFolder]] = []  # not staged by this target: temps to write and flush
        for index, change in enumerate(switches):
            with self._lock:
                folder = self._open.get(change.module)
            if folder is not None and folder.switch_to == (change.release_id, change.config):
                going.append((index, folder))
                continue
            folder = self._folder(change.module)
            try:
                with folder.reporting():
                    folder.inspect(strict=False)
                    if change.release_id is not None and not folder.holds_release(change.release_id):
                        folder.fail(f"{folder.releases / change.release_id} is not a complete release")
                    folder.prepare_switch(change.release_id, change.config)
            except FrontendError as error:
                folder.undo_staging()
                results[index] = error
            else:
                fresh.append((index, folder))
        going += self._flush_step(fresh, results, ModuleFolder.take_staged_writes)
        switched = []
        for index, folder in going:
            try:
                with folder.reporting():
                    folder.switch()
            except FrontendError as error:
                try:
                    folder.restore_previous()
                    folder.drop_temps()  # what was not renamed: nothing will rename it now
                except OSError as restore_error:
                    error = FrontendError(f"{error}; restoring the previous release failed too: {restore_error}")
                results[index] = error
            else:
                switched.append((index, folder))
        if flush_group(self.path) is None:  # no shared flush later: each module folder now
            self._flush_step(switched, results, ModuleFolder.module_writes)
        return results

    def flush(self) -> None:
        self._count_sync()
        try:
            flush_filesystems([self.path])
        except OSError as error:
            raise FrontendError(f"front-end {self.location}: {error.filename or self.path}: {error.strerror}") from None

    def discard(self, staged: Sequence[Staged]) -> None:
        for item in staged:
            with self._lock:
                folder = self._open.pop(item.module, None)
            if folder is not None:
                folder.undo_staging()
            elif item.created:
                self._discard_unless_live(item.module, item.release_id)

    def _discard_unless_live(self, module: str, release_id: str) -> None:
        folder = self._folder(module)
        try:
            if folder.read_current() != release_id and folder.holds_release(release_id):
                discard_release(folder.releases / release_id)
        except OSError:
            pass  # best effort: the next stage of this module clears what is left

    def prune(self, prunes: Sequence[Prune]) -> None:
        for item in prunes:
            with self._lock:
                folder = self._open.pop(item.module, None)
            folder = folder or self._folder(item.module)
            try:
                folder.prune(item.protect, item.keep)
            except OSError as error:
                _log.warning("front-end %s: could not prune old releases of %s: %s", self.location, item.module, error)

    # -- leftovers of interrupted calls

    def list_leftovers(self, modules: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for module in modules:
            folder = self._folder(module)
            with folder.reporting():
                paths = folder.leftovers()
            if paths:
                found[module] = [path.relative_to(folder.path).as_posix() for path in paths]
        return found

    def remove_leftovers(self, modules: Sequence[str]) -> dict[str, list[str]]:
        removed: dict[str, list[str]] = {}
        for module in modules:
            with self._lock:
                folder = self._open.pop(module, None)  # what this target prepared goes too
            folder = folder or self._folder(module)
            with folder.reporting():
                paths = folder.remove_leftovers()
            if paths:
                removed[module] = [path.relative_to(folder.path).as_posix() for path in paths]
        return removed

    # -- ownership

    def read_owner(self) -> bytes | None:
        path = self.path / OWNER_FILE
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            raise FrontendError(f"front-end {self.location}: {path}: {error.strerror}") from None

    def write_owner(self, stamp: bytes) -> None:
        folder = ModuleFolder(self.path, "_", self.location)
        with folder.reporting():
            self.path.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path / OWNER_FILE, stamp)

    # -- configuration and removal

    def write_config(self, configs: Sequence[tuple[str, bytes | None]]) -> None:
        for module, data in configs:
            folder = self._folder(module)
            with folder.reporting():
                if data is None:
                    folder.config_file.unlink(missing_ok=True)
                    fsync_directory(folder.path)
                else:
                    write_atomically(folder.config_file, data, mode=PRIVATE_MODE)

    def remove(self, modules: Sequence[str]) -> None:
        for module in modules:
            folder = self._folder(module)
            with folder.reporting():
                folder.check_frontend()
                folder.remove_own_files()

    def stats(self) -> TargetStats:
        return TargetStats(syncs=self._syncs)

    def _count_sync(self) -> None:
        with self._lock:
            self._syncs += 1

    def close(self) -> None:
        with self._lock:
            self._open.clear()

    # -- steps shared by a batch

    def _each(
        self,
        going: list[tuple[int, ModuleFolder]],
        results: list[StageResult | None],
        action: Callable[[ModuleFolder], None],
    ) -> list[tuple[int, ModuleFolder]]:
        kept = []
        for index, folder in going:
            try:
                with folder.reporting():
                    action(folder)
            except FrontendError as error:
                folder.undo_staging()
                results[index] = error
            else:
                kept.append((index, folder))
        return kept

    def _flush_step(
        self,
        going: list[tuple[int, ModuleFolder]],
        results: Sequence[StageResult | None],
        writes_of: Callable[[ModuleFolder], PendingWrites],
    ) -> list[tuple[int, ModuleFolder]]:
        """One shared flush for every module still going; a failed flush fails them all."""
        if not going:
            return going
        self._count_sync()
        try:
            make_durable([writes_of(folder) for _index, folder in going])
        except OSError as error:
            where = str(error.filename or self.path)
            failure = FrontendError(f"front-end {self.location}: {where}: {error.strerror or error}")
            for index, folder in going:
                folder.undo_staging()
                results[index] = failure  # type: ignore[index]
            return []
        return going


def _release_meta(module: str, release: Path) -> ReleaseMeta | None:
    try:
        info_path = release / RELEASE_INFO
        stamp = os.stat(info_path).st_mtime_ns
        info = parse_release_info(info_path.read_bytes())
    except OSError:
        return None
    if info is None:
        return None
    version = info.get("version")
    return ReleaseMeta(
        module,
        release.name,
        version if isinstance(version, int) else None,
        str(info["platform"]) if info.get("platform") is not None else None,
        str(info["artifact_sha256"]) if info.get("artifact_sha256") is not None else None,
        stamp,
    )


def _folder_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder``, links not followed."""
    total = 0
    for base, _subfolders, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):  # gone meanwhile: nothing to count
                total += os.lstat(os.path.join(base, name)).st_size
    return total


def _hashes(release: Path) -> dict[str, str | None]:
    """Every non-folder entry under ``release`` by relative posix path; links are not followed."""
    found: dict[str, str | None] = {}
    for folder, subfolders, names in os.walk(release):
        base = Path(folder)
        for name in names + [sub for sub in subfolders if (base / sub).is_symlink()]:
            relative = (base / name).relative_to(release).as_posix()
            if relative != RELEASE_INFO:
                found[relative] = _hash_file(base / name)
    return found


def _hash_file(path: Path) -> str | None:
    try:
        mode = os.lstat(path).st_mode
        if not stat.S_ISREG(mode):
            return None  # a link or special file where a file was written counts as changed
        return file_sha256(path)  # in chunks: a live file may be hundreds of megabytes
    except OSError:
        return None
