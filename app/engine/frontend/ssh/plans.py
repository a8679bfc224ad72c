"""One module's part of an SSH front-end batch: what was found, what to write, what to rename.

``ssh.SshTarget`` runs the batches; these plain objects decide, per module, with the local
deployer's rules: refuse foreign entries, reuse an identical release, fail a release id that
holds another artifact, and find the temp files a switch will rename.
"""

from __future__ import annotations

import enum
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.engine.frontend.layout import check_module_name, parse_release_info
from app.engine.frontend.ssh import remote
from app.engine.frontend.ssh.output import Output
from app.engine.frontend.ssh.remote import CONFIG, CURRENT, RELEASE_INFO, RELEASES, STAGING_PREFIX
from app.engine.frontend.target import (
    FrontendError,
    ReleaseFiles,
    ReleaseMeta,
    Staged,
    StageResult,
)


@dataclass
class FolderReport:
    """What one inspection found in one module folder."""

    name: str
    problem: str | None = None
    absent: set[str] = field(default_factory=set)  # "m": no module folder, "r": no releases folder
    current: str | None = None
    releases: dict[str, int] = field(default_factory=dict)  # own release -> .release.json mtime (ns)
    infos: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    config: bytes | None = None
    target_exists: bool = False


@dataclass(frozen=True)
class Prepared:
    """Temp files that ``stage`` left for a switch to this release and configuration."""

    release_id: str
    config: bytes
    current_temp: str | None  # None: CURRENT already names the release
    config_temp: str | None  # None: config.json already holds that configuration
    previous_config: bytes | None

    def change(self, module: str) -> Change:
        change = Change(
            module,
            b"" if self.current_temp else KEEP,
            b"" if self.config_temp else KEEP,
            previous_config=self.previous_config,
            current_temp=self.current_temp or "",
            config_temp=self.config_temp or "",
            written=True,
        )
        return change


class Keep(enum.Enum):
    KEEP = "keep"  # a Change field that stays as it is


KEEP = Keep.KEEP


@dataclass(eq=False)
class StagePlan:
    release: ReleaseFiles
    info: FolderReport
    staging: str | None = None  # the staging folder's name, when the release is to be written
    error: FrontendError | None = None
    ready: bool = False  # in place (written or reused), its .release.json to be stamped
    temps: list[tuple[str, bytes, int]] = field(default_factory=list)  # (path, content, mode)
    current_temp: str | None = None
    config_temp: str | None = None

    def add_temps(self) -> None:
        """The next CURRENT and config.json under temp names, where they change."""
        module, release = self.release.module, self.release
        if release.release_id != self.info.current:
            self.current_temp = f"{module}/.{CURRENT}.tmp-{secrets.token_hex(6)}"
            self.temps.append((self.current_temp, f"{release.release_id}\n".encode("ascii"), 0o644))
        if release.config != self.info.config:
            self.config_temp = f"{module}/.{CONFIG}.tmp-{secrets.token_hex(6)}"
            self.temps.append((self.config_temp, release.config, 0o600))

    def prepared(self) -> Prepared:
        return Prepared(
            self.release.release_id, self.release.config, self.current_temp, self.config_temp, self.info.config
        )

    def decide(self, error: Callable[[str], FrontendError], path: Callable[..., str]) -> None:
        """Fail, reuse what is there, or plan to write the release, as the local deployer would."""
        info, release = self.info, self.release
        if info.problem is not None:
            self.error = error(info.problem)
            return
        if info.current is not None and (not is_release_name(info.current) or info.infos.get(info.current) is None):
            current = path(release.module, CURRENT)
            self.error = error(f"{current} names {info.current!r}, which is not a complete release")
            return
        if info.target_exists:
            where = path(self.target_path())
            recorded = info.infos.get(release.release_id) if release.release_id in info.releases else None
            if recorded is None:
                self.error = error(f"{where} exists but was not created by Deploy Center; move it away")
            elif recorded.get("artifact_sha256") != release.artifact_sha256:
                self.error = error(f"{where} holds a different artifact under the same release id")
            else:
                self.ready = True
            return
        self.staging = f"{STAGING_PREFIX}{release.release_id}-{os.getpid()}-{secrets.token_hex(4)}"
        self.ready = True

    def staging_path(self) -> str:
        assert self.staging is not None
        return f"{self.release.module}/{RELEASES}/{self.staging}"

    def target_path(self) -> str:
        return f"{self.release.module}/{RELEASES}/{self.release.release_id}"

    def leftovers(self) -> list[str]:
        """What this call unpacked for the release: its staging folder and temp files."""
        staging = [self.staging_path()] if self.staging is not None else []
        return staging + [name for name, _data, _mode in self.temps]

    def made_folders(self) -> list[str]:
        """Folders tar made for this release (innermost first), to remove when it failed."""
        module = self.release.module
        made = [f"{module}/{RELEASES}"] if self.info.absent & {"m", "r"} else []
        return made + ([module] if "m" in self.info.absent else [])

    def result(self) -> StageResult:
        if self.error is not None:
            return self.error
        return Staged(
            module=self.release.module,
            release_id=self.release.release_id,
            previous_release=self.info.current,
            previous_config=self.info.config,
            created=self.staging is not None,
        )


@dataclass(eq=False)
class Change:
    """New ``CURRENT`` and ``config.json`` for one module (``KEEP``: leave it; None: remove it)."""

    module: str
    current: bytes | Keep | None
    config: bytes | Keep | None
    previous_config: bytes | Keep | None = KEEP  # what to put back if CURRENT cannot switch; KEEP: unknown
    root: str = ""
    current_temp: str = ""
    config_temp: str = ""
    config_done: bool = False
    written: bool = False  # the temps are on the server already (left by stage)
    release: str | None = None  # the release CURRENT will name, checked complete first unless stage left the temps

    def prepare(self, root: str) -> None:
        self.root = root
        if not self.written:
            self.current_temp = f"{self.module}/.{CURRENT}.tmp-{secrets.token_hex(6)}"
            self.config_temp = f"{self.module}/.{CONFIG}.tmp-{secrets.token_hex(6)}"

    def temps(self) -> list[tuple[str, bytes]]:
        """The temp files still to write: (path under the root, content)."""
        if self.written:
            return []
        found = []
        if isinstance(self.config, bytes):
            found.append((self.config_temp, self.config))
        if isinstance(self.current, bytes):
            found.append((self.current_temp, self.current))
        return found

    def both(self) -> bool:
        return self.config is not KEEP and self.current is not KEEP

    def moves(self) -> list[remote.Move]:
        """config.json first, then CURRENT: each one rename (or removal), atomic on the server."""
        found: list[remote.Move] = [("g", self.module, "-")]
        if self.release is not None and not self.written:  # never a CURRENT naming what is not there
            found.append(("e", "-", f"{self.module}/{RELEASES}/{self.release}/{RELEASE_INFO}"))
        for value, temp, name in ((self.config, self.config_temp, CONFIG), (self.current, self.current_temp, CURRENT)):
            if value is None:
                found.append(("d", "-", f"{self.module}/{name}"))
            elif value is not KEEP:
                found.append(("r", temp, f"{self.module}/{name}"))
        return found

    def undo(self) -> Change | None:
        """When CURRENT failed after config.json switched: the change that puts config.json back."""
        if not (self.config_done and self.both()) or self.previous_config is KEEP:
            return None
        return Change(self.module, KEEP, self.previous_config)


# ---------------------------------------------------------------- helpers


def move_failures(out: Output) -> dict[str, tuple[str, str]]:
    """``moves``' reports: module -> (path, problem)."""
    found: dict[str, tuple[str, str]] = {}
    for record in out.records:
        if record[0] == "E" and len(record) > 2:
            where, _, problem = record[2].partition(" ")
            found.setdefault(record[1], (where, problem or "failed"))
    return found


def batches(items: Sequence[Any], key: Callable[[Any], str] = str) -> Iterator[list[Any]]:
    for part in remote.chunks(len(items), (len(key(item)) * 3 + 40 for item in items)):
        yield [items[i] for i in part]


def checked_names(modules: Sequence[str]) -> list[str]:
    for module in modules:
        check_module_name(module)
    return list(dict.fromkeys(modules))


def check_release_id(release: str) -> None:
    if not is_release_name(release):
        raise ValueError(f"not a valid release id: {release!r}")


def is_release_name(name: str) -> bool:
    allowed = all(c.isascii() and (c.isalnum() or c in "._+@,=-") for c in name)
    return bool(name) and not name.startswith(".") and allowed


def current_bytes(release: str | None) -> bytes | None:
    if release is None:
        return None
    check_release_id(release)
    return f"{release}\n".encode("ascii")


def parse_info(data: bytes | None) -> dict[str, Any] | None:
    """A ``.release.json`` read from a server, parsed as the local target parses one."""
    return None if data is None else parse_release_info(data)


def metas(info: FolderReport) -> list[ReleaseMeta]:
    metas = []
    for name, stamp in sorted(info.releases.items(), key=lambda item: (item[1], item[0])):
        recorded = info.infos.get(name) or {}
        version = recorded.get("version")
        metas.append(
            ReleaseMeta(
                module=info.name,
                release_id=name,
                version=version if isinstance(version, int) else None,
                platform=_text(recorded.get("platform")),
                artifact_sha256=_text(recorded.get("artifact_sha256")),
                order=stamp,
            )
        )
    return metas


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def first_line(text: str) -> str:
    return text.splitlines()[0].strip() if text else ""
