"""The reading half of an SSH front-end: its connection, the plumbing of every call, and every
read (``CURRENT``, ``config.json``, releases, sizes, live hashes, the ownership stamp).

``ssh.SshTarget`` adds the writes. Scripts without data go through the connection's long-lived
remote shell; a batch is cut at 2,000 modules (``ssh_plans.batches``).
"""

from __future__ import annotations

import logging
import posixpath
import shlex
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from app.engine.frontend.layout import OWNER_FILE, is_leftover_path
from app.engine.frontend.ssh import remote
from app.engine.frontend.ssh.options import Limits, SessionError
from app.engine.frontend.ssh.output import Output, hashes, mtimes
from app.engine.frontend.ssh.plans import (
    FolderReport,
    batches,
    checked_names,
    first_line,
    is_release_name,
    metas,
    parse_info,
)
from app.engine.frontend.ssh.remote import CONFIG, RELEASE_INFO, RELEASES
from app.engine.frontend.ssh.session import Completed, Session
from app.engine.frontend.ssh.url import SshUrl, parse_ssh_url
from app.engine.frontend.target import FrontendError, LiveRelease, ReleaseMeta, TargetStats

_log = logging.getLogger(__name__)
_ROOT_PROBLEMS = {
    "missing": "folder does not exist",
    "notdir": "is not a folder",
    "sync": "could not make the writes durable (sync failed)",
    "noaccess": "cannot be entered (permission denied)",
    "readonly": "is not writable",
}


class SshFolderReader:
    """One front-end folder on an SSH server, read; one connection, made on first use."""

    def __init__(self, name: str, location: str | SshUrl, limits: Limits | None = None) -> None:
        self._name = name
        self._url = location if isinstance(location, SshUrl) else parse_ssh_url(location)
        self._location = str(self._url)
        self._root = self._url.path
        self._session = Session(self._url, limits or Limits())
        # Set when a call lost the connection: clean-ups then leave their leftovers to the next
        # stage (which clears them) instead of waiting for a server that is gone.
        self._lost = False
        self._syncs = 0  # the syncs asked of the server (a shared one counts once)
        self._counting = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def location(self) -> str:
        return self._location

    # ---------------------------------------------------------------- plumbing

    def _error(self, problem: str) -> FrontendError:
        return FrontendError(f"front-end {self._location}: {problem}")

    def _run(self, script: str, stdin: Sequence[bytes] | Iterator[bytes] | None = None) -> Completed:
        """Run a script with ``$1`` = the root, in the connection's long-lived shell (no session to
        start, no login shell start-up), with ``stdin`` as its input when given."""
        try:
            return self._session.shell(f"set -- {shlex.quote(self._root)}\n{script}", stdin)
        except SessionError as error:
            self._lost = True
            raise self._error(str(error)) from None

    def _shared(self, script: str) -> Completed:
        """``_run`` for a script every caller may share (``Session.shared``): a ``sync``."""
        try:
            done, ran = self._session.shared(f"set -- {shlex.quote(self._root)}\n{script}")
        except SessionError as error:
            self._lost = True
            raise self._error(str(error)) from None
        if ran:
            self._count_syncs(1)
        return done

    def _count_syncs(self, count: int) -> None:
        with self._counting:
            self._syncs += count

    def stats(self) -> TargetStats:
        counts = self._session.counts()
        return TargetStats(counts.connections, counts.sessions, counts.scripts, self._syncs, counts.bytes_sent)

    def _read(self, script: str, stdin: Iterator[bytes] | None = None) -> Output:
        """Run a script and read its records; a front-end-wide problem it reports is raised."""
        done = self._run(script, stdin)
        out = Output.parse(done.stdout)
        problem = out.failure()
        if problem == "untar":  # a script that unpacks its stdin first: tar's own words say why
            raise self._error(self._command_problem(done, "unpacking the releases"))
        if problem is not None:
            raise self._error(_ROOT_PROBLEMS.get(problem, problem))
        if done.status != 0:  # every script reports through its records and ends with 0: it was cut short
            raise self._error(self._command_problem(done, "a script there"))
        return out

    def _path(self, *parts: str) -> str:
        return posixpath.join(self._root, *parts)

    def _command_problem(self, done: Completed, doing: str) -> str:
        text = done.stderr.decode("utf-8", errors="replace").strip()
        if "No space left on device" in text or "Disk quota exceeded" in text:
            return f"remote disk full while {doing} ({first_line(text)})"
        if "Permission denied" in text or "Read-only file system" in text:
            return f"permission denied while {doing} ({first_line(text)})"
        return f"{doing} failed (exit {done.status}): {first_line(text) or 'no message'}"

    # ---------------------------------------------------------------- checks and reads

    def check(self) -> None:
        """The folder is there and writable, and the server has the programs the scripts use."""
        try:
            self._read(remote.check_script())
        except FrontendError as error:
            missing = str(error).partition(": lacks ")[2]
            if missing:
                raise self._error(f"the server lacks {', '.join(missing.split())}, which Deploy Center needs") from None
            raise

    def list_leftovers(self, modules: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for part in batches(checked_names(modules)):
            for record in self._read(remote.leftovers_script(part, remove=False)).records:
                if record[0] == "L" and len(record) > 2 and is_leftover_path(record[2]):
                    found.setdefault(record[1], []).append(record[2])
        return {module: sorted(found[module]) for module in modules if module in found}

    def read_current(self, modules: Sequence[str]) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        for part in batches(checked_names(modules)):
            out = self._read(remote.current_script(part))
            for record in out.records:
                if record[0] == "K" and len(record) > 1:
                    found[record[1]] = (record[2] if len(record) > 2 else "").strip() or None
        return {module: found.get(module) for module in modules}

    def read_config(self, modules: Sequence[str]) -> dict[str, bytes | None]:
        configs: dict[str, bytes | None] = {}
        for part in batches(checked_names(modules)):
            for info in self._inspect(part, None, stage=False, dump="c"):
                configs[info.name] = info.config
        return {module: configs.get(module) for module in modules}

    def list_releases(self, modules: Sequence[str]) -> dict[str, list[ReleaseMeta]]:
        listed: dict[str, list[ReleaseMeta]] = {}
        for part in batches(checked_names(modules)):
            for info in self._inspect(part, None, stage=False, dump="i"):
                listed[info.name] = metas(info)
        return {module: listed.get(module, []) for module in modules}

    def release_sizes(self, modules: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per module, the bytes of each of its release folders, measured on the server."""
        listed = self.list_releases(modules)
        paths = [f"{module}/{RELEASES}/{meta.release_id}" for module, metas in listed.items() for meta in metas]
        sizes: dict[str, dict[str, int]] = {module: {} for module in modules}
        for part in batches(paths):
            for record in self._read(remote.sizes_script(part)).records:
                if record[0] == "Z" and len(record) > 2 and record[2].isdigit():
                    module, _releases, release = record[1].split("/", 2)
                    sizes[module][release] = int(record[2])
        return sizes

    def read_live(self, modules: Sequence[str]) -> list[LiveRelease]:
        current = self.read_current(modules)
        live = {m: r for m, r in current.items() if r is not None and is_release_name(r)}
        hashed: dict[str, tuple[dict[str, Any] | None, dict[str, str | None]]] = {}
        names = list(live)
        for part in batches(names):
            hashed.update(self._hash(part, live))
        results = []
        for module in modules:
            release = current.get(module)
            info, files = hashed.get(module, (None, {}))
            results.append(LiveRelease(module=module, release_id=release, info=info, hashes=files))
        return results

    def _hash(
        self, modules: Sequence[str], live: Mapping[str, str]
    ) -> dict[str, tuple[dict[str, Any] | None, dict[str, str | None]]]:
        folders = {module: f"{module}/{RELEASES}/{live[module]}" for module in modules}
        out = self._read(remote.hash_script(list(folders.values())))
        digests = hashes(line for record in out.records for line in [" ".join(record)])
        others = [line for line in out.sections.get("other", []) if line]
        found: dict[str, tuple[dict[str, Any] | None, dict[str, str | None]]] = {}
        for module, folder in folders.items():
            prefix = folder + "/"
            files: dict[str, str | None] = {
                path[len(prefix) :]: digest for path, digest in digests.items() if path.startswith(prefix)
            }
            files.update({path[len(prefix) :]: None for path in others if path.startswith(prefix)})
            files.pop(RELEASE_INFO, None)
            found[module] = (parse_info(out.files.get(f"{folder}/{RELEASE_INFO}")), files)
        return found

    def _inspect(
        self, modules: Sequence[str], targets: Sequence[str] | None, stage: bool, dump: str
    ) -> list[FolderReport]:
        out = self._read(remote.inspect_script(modules, targets, stage, dump))
        found = {module: FolderReport(module) for module in modules}
        for record in out.records:
            info = found.get(record[1]) if len(record) > 1 else None
            if info is None:
                continue
            code, rest = record[0], record[2] if len(record) > 2 else ""
            if code == "F":
                info.problem = self._folder_problem(info.name, rest)
            elif code == "A":
                info.absent.add(rest)
            elif code == "K":
                info.current = rest.strip() or None
            elif code == "R":
                info.releases[rest] = 0
            elif code == "S":
                info.target_exists = True
        stamps = mtimes(out.sections.get("stat", []))
        for info in found.values():
            for release in info.releases:
                path = f"{info.name}/{RELEASES}/{release}/{RELEASE_INFO}"
                info.releases[release] = stamps.get(path, 0)
                info.infos[release] = parse_info(out.files.get(path))
            info.config = out.files.get(f"{info.name}/{CONFIG}")
        return [found[module] for module in modules]

    def _folder_problem(self, module: str, rest: str) -> str:
        kind, _, name = rest.partition(" ")
        path = self._path(module)
        return {
            "link": f"{path} is a symbolic link, but Deploy Center needs its own folder there; move it away",
            "file": f"{path} is a file, but Deploy Center needs a folder there; move it away",
            "notreg": f"{path}/{name} is not a regular file; Deploy Center will not replace it",
            "foreign": f"{path}/{name} was not created by Deploy Center; move it away and deploy again",
            "rlink": (
                f"{path}/{RELEASES} is a symbolic link, but Deploy Center needs its own folder there; move it away"
            ),
            "rfile": f"{path}/{RELEASES} is a file, but Deploy Center needs a folder there; move it away",
            "nofolder": f"{path} is not a folder of Deploy Center's; stage the release first",
        }.get(kind, f"{path}: {rest}")

    def read_owner(self) -> bytes | None:
        done = self._run(f'cd "$1" 2>/dev/null || exit 3; [ -f {OWNER_FILE} ] || exit 3; exec cat {OWNER_FILE}')
        if done.status == 3:
            return None  # no folder yet, or no stamp in it
        if done.status != 0:
            raise self._error(self._command_problem(done, "reading the ownership stamp"))
        return done.stdout

    def close(self) -> None:
        self._session.close()
