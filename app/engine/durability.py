"""Group commit for front-end writes: one disk flush makes many modules' files durable at once.

An ``fsync`` per file and per folder costs one disk flush each, and a Deploy All of thousands of
modules would spend most of its time waiting for them. On Linux, ``syncfs(2)`` flushes everything
written to one filesystem; concurrent writers register with a ``FlushGroup`` and wait for the
next ``syncfs`` that starts after their writes, so one flush serves every module in flight.

Where ``syncfs`` is missing (macOS, Windows) or refused by the filesystem, ``make_durable`` falls
back to fsyncing each file and folder it is given, which is what durability needs everywhere.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.files import fsync_directory, fsync_file


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here, not at import: it costs 30 ms of every command's start-up

    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs  # ctypes releases the GIL during the call
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_NOT_LOADED: Any = object()
_SYNCFS: Any = _NOT_LOADED  # syncfs from libc, None where there is none; loaded on first use


def _syncfs_function() -> Callable[[int], int] | None:
    global _SYNCFS
    if _SYNCFS is _NOT_LOADED:
        _SYNCFS = _load_syncfs()
    return _SYNCFS  # type: ignore[no-any-return]


class FlushGroup:
    """Waiters on one filesystem share ``syncfs`` calls; each waits for one that began after it came."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._started = 0  # generations of syncfs begun
        self._finished = 0  # the last generation that completed
        self._running = False
        self._failures: dict[int, OSError] = {}
        self.flushes = 0  # syncfs calls made, for benchmarks

    def wait(self, anchor: Path) -> None:
        """Return once everything written to ``anchor``'s filesystem before this call is on disk."""
        with self._cond:
            target = self._started + 1  # a flush already running may have begun before our writes
            while self._finished < target:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                self._started += 1
                generation = self._started
                self._cond.release()
                failure: OSError | None = None
                try:
                    failure = _syncfs(anchor)
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._finished = generation
                    self.flushes += 1
                    if failure is not None:
                        self._failures[generation] = failure
                    self._failures.pop(generation - 64, None)
                    self._cond.notify_all()
            failure = self._failures.get(target)
        if failure is not None:
            raise failure


def _syncfs(anchor: Path) -> OSError | None:
    import ctypes

    syncfs = _syncfs_function()
    assert syncfs is not None
    fd = os.open(anchor, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            code = ctypes.get_errno()
            return OSError(code, os.strerror(code), str(anchor))
        return None
    finally:
        os.close(fd)


_groups: dict[int, FlushGroup] = {}
_groups_lock = threading.Lock()
_refused: set[int] = set()  # devices whose filesystem refused syncfs: use fsync there


def flush_group(anchor: Path) -> FlushGroup | None:
    """The group for ``anchor``'s filesystem, or None where files must be fsynced one by one."""
    if _syncfs_function() is None:
        return None
    device = os.stat(anchor).st_dev
    with _groups_lock:
        if device in _refused:
            return None
        return _groups.setdefault(device, FlushGroup())


@dataclass
class PendingWrites:
    """What one step wrote under one front-end and has not made durable yet."""

    anchor: Path  # a folder on the filesystem written to
    files: Sequence[str | Path] = ()  # whose content must reach the disk
    folders: Sequence[str | Path] = ()  # whose entries (creations, renames) must


def make_durable(writes: Iterable[PendingWrites]) -> None:
    """Make every pending write durable: one shared flush per filesystem where syncfs works,
    otherwise an fsync of each file, then each folder deepest first."""
    shared: dict[int, tuple[FlushGroup, Path, list[PendingWrites]]] = {}
    one_by_one: list[PendingWrites] = []
    for pending in writes:
        if not (pending.files or pending.folders):
            continue
        group = flush_group(pending.anchor)
        if group is None:
            one_by_one.append(pending)
        else:
            shared.setdefault(id(group), (group, pending.anchor, []))[2].append(pending)
    for group, anchor, members in shared.values():
        try:
            group.wait(anchor)
        except OSError as error:
            if error.errno not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            with _groups_lock:
                _refused.add(os.stat(anchor).st_dev)
            one_by_one.extend(members)
    for pending in one_by_one:
        for path in pending.files:
            fsync_file(path)
        for folder in sorted({Path(f) for f in pending.folders}, key=lambda path: len(path.parts), reverse=True):
            fsync_directory(folder)


def flush_filesystems(anchors: Iterable[Path]) -> None:
    """One shared flush of each filesystem holding one of ``anchors``, where syncfs works.

    For callers that left the last flush of many writes to a later single call; where syncfs
    is missing they must not have, and there is nothing to do here. Anchors that are gone are
    skipped: nothing written there can be flushed any more.
    """
    groups: dict[int, tuple[FlushGroup, Path]] = {}
    for anchor in anchors:
        try:
            group = flush_group(anchor)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if group is not None:
            groups.setdefault(id(group), (group, anchor))
    for group, anchor in groups.values():
        group.wait(anchor)


def flush_count() -> int:
    """How many syncfs calls this process made, over all filesystems (for benchmarks)."""
    with _groups_lock:
        return sum(group.flushes for group in _groups.values())
