"""The front-end target interface: everything the engine does to one front-end, in batches.

A front-end is a folder with the layout of rules.md#layout, on this machine
(``local.LocalTarget``) or on another one. The engine never touches a front-end's files but
through this interface, and every call takes many modules at once, so that a front-end across
a network costs a few round trips per batch, not one per module or per file.

A deploy goes through it in this order, for a batch of modules on every enabled front-end
(``farm.deploy_releases`` coordinates the front-ends):

1. ``stage`` writes each release as ``releases/<id>``, complete and durable, but not live;
2. ``switch`` makes each staged release live: ``config.json`` and ``CURRENT`` are replaced
   atomically; a switch to the release that was live before is how a front-end switches back;
3. ``flush`` makes the switches durable, once for the whole batch, before the run records
   the modules as deployed;
4. ``prune`` removes old releases that retention does not keep.

A target only ever deletes what Deploy Center created: release folders with a
``.release.json``, its own staging and temp names, ``CURRENT`` and ``config.json``.

A call that is interrupted (a process killed, a connection lost) can leave work files behind
under those staging and temp names (``layout.is_leftover_path``): ``list_leftovers`` finds them
for ``verify``, and ``remove_leftovers`` clears them once no call works on the module any more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from app.engine.blobs import Blob
from app.engine.errors import DeployCenterError


class FrontendError(DeployCenterError):
    """A front-end cannot do what was asked; the message names the front-end and the path."""

    exit_code = 1


@dataclass(frozen=True)
class ReleaseFiles:
    """A release ready to write: its files and ``.release.json``, checked once for every front-end."""

    module: str
    release_id: str
    artifact_sha256: str
    files: Mapping[str, Blob]  # relative posix path -> content (a big file's: where to copy it from)
    info: bytes  # the ``.release.json`` to write beside them
    config: bytes  # the ``config.json`` that goes live with the release


@dataclass(frozen=True)
class Staged:
    """A release that ``stage`` left complete and durable on one front-end, not live yet."""

    module: str
    release_id: str
    previous_release: str | None  # what CURRENT named when staged; None: the module was not live
    previous_config: bytes | None  # the config.json then, for switching back
    created: bool  # False when an earlier call had already put this exact release there


@dataclass(frozen=True)
class Switch:
    """Make ``release_id`` live with ``config``; ``None`` removes ``CURRENT`` or ``config.json``.

    A switch back is a switch to a ``Staged``'s previous release and configuration.
    """

    module: str
    release_id: str | None
    config: bytes | None


@dataclass(frozen=True)
class ReleaseMeta:
    """One release folder of Deploy Center's on a front-end, from its ``.release.json``."""

    module: str
    release_id: str
    version: int | None
    platform: str | None
    artifact_sha256: str | None
    order: int  # when it was last staged or made live, as a sortable stamp: newer is larger


@dataclass(frozen=True)
class LiveRelease:
    """What a front-end runs for one module, read for ``verify``.

    ``hashes`` has the sha256 of every file under the live release folder (``.release.json``
    aside) computed where the files are, and None for a link or special file found there.
    """

    module: str
    release_id: str | None  # CURRENT's content; None when the module is not live there
    info: Mapping[str, Any] | None  # the live release's .release.json; None when missing or unreadable
    hashes: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Prune:
    """Keep ``protect`` (live, rollback target, staged) and the ``keep`` newest other releases."""

    module: str
    protect: frozenset[str]
    keep: int


StageResult = Staged | FrontendError


@dataclass(frozen=True)
class TargetStats:
    """What a target has cost so far, for a run's statistics.

    ``connections`` made to it and ``sessions`` (channels) opened on them, ``scripts`` run there
    (each one round trip), ``syncs``: the disk flushes it waited for, and ``bytes_sent`` to it.
    A local folder has no connection, session or script.
    """

    connections: int = 0
    sessions: int = 0
    scripts: int = 0
    syncs: int = 0
    bytes_sent: int = 0

    def __add__(self, other: TargetStats) -> TargetStats:
        return TargetStats(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def __sub__(self, other: TargetStats) -> TargetStats:
        return TargetStats(*(a - b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        return (self.connections, self.sessions, self.scripts, self.syncs, self.bytes_sent)

    def to_json(self) -> dict[str, int]:
        return {
            "connections": self.connections,
            "sessions": self.sessions,
            "scripts": self.scripts,
            "syncs": self.syncs,
            "bytes_sent": self.bytes_sent,
        }


class FrontendTarget(Protocol):
    """One front-end. Results come back in the order of the requests, one per request."""

    @property
    def name(self) -> str:
        """The front-end's name in the environment."""

    @property
    def location(self) -> str:
        """Where it is: a folder, or an ``ssh://`` target; error messages name it."""

    def check(self) -> None:
        """Raise ``FrontendError`` unless the front-end can be read and written now."""

    def read_current(self, modules: Sequence[str]) -> dict[str, str | None]:
        """Each module's live release id (``CURRENT``), None where it is not live."""

    def stage(self, releases: Sequence[ReleaseFiles]) -> list[StageResult]:
        """Write each release as ``releases/<id>`` and make it durable; nothing goes live.

        A module folder holding something Deploy Center did not create fails that module,
        naming the path. A failed module leaves nothing behind; the others carry on.
        """

    def switch(self, switches: Sequence[Switch]) -> list[FrontendError | None]:
        """Replace each module's ``config.json`` and ``CURRENT`` atomically; per switch, its error.

        A failed switch leaves that module as it was. The switches are durable once ``flush``
        returns.
        """

    def flush(self) -> None:
        """Make every switch made so far durable."""

    def discard(self, staged: Sequence[Staged]) -> None:
        """Remove staged releases this target created and that are not live. Never raises."""

    def prune(self, prunes: Sequence[Prune]) -> None:
        """Remove old releases as ``Prune`` says; best effort, never raises."""

    def list_releases(self, modules: Sequence[str]) -> dict[str, list[ReleaseMeta]]:
        """Every release folder of each module, oldest first."""

    def read_config(self, modules: Sequence[str]) -> dict[str, bytes | None]:
        """Each module's ``config.json``, None where there is none."""

    def write_config(self, configs: Sequence[tuple[str, bytes | None]]) -> None:
        """Replace (or, for None, remove) ``config.json`` of each module, atomically and durably."""

    def remove(self, modules: Sequence[str]) -> None:
        """Delete what Deploy Center created for each module; foreign files and their folders stay."""

    def list_leftovers(self, modules: Sequence[str]) -> dict[str, list[str]]:
        """Per module that has any, the work files an interrupted call left in its folder: temp
        ``CURRENT`` and ``config.json`` files, and staging folders under ``releases`` (as paths
        relative to the module folder, such as ``releases/.staging-...``)."""

    def remove_leftovers(self, modules: Sequence[str]) -> dict[str, list[str]]:
        """Remove those work files, and whatever this target prepared for switching these modules;
        per module, what was removed. Only for modules no call is working on (their run or
        operation holds them)."""

    def read_owner(self) -> bytes | None:
        """The front-end's ownership stamp (``ownership.OWNER_FILE``), None when it has none."""

    def write_owner(self, stamp: bytes) -> None:
        """Replace the ownership stamp atomically, creating the front-end folder when missing."""

    def read_live(self, modules: Sequence[str]) -> list[LiveRelease]:
        """What runs for each module, with file hashes computed on the front-end (for ``verify``)."""

    def stats(self) -> TargetStats:
        """What this target has cost since it was made: connections, round trips, disk flushes."""

    def close(self) -> None:
        """Let go of what the target holds (a connection); it may not be used after."""


@runtime_checkable
class SizedTarget(FrontendTarget, Protocol):
    """A target that can also say how big its releases are, for ``prune`` (rules.md#retention).

    Apart from the interface so that a target without it still works for every run; ``prune``
    skips such a front-end with a warning.
    """

    def release_sizes(self, modules: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per module, the bytes of each release folder of Deploy Center's (``.release.json`` and
        all files under it, links not followed); a module without releases maps to ``{}``."""
