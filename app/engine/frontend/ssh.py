"""A front-end folder on another machine, reached over SSH: ``FrontendTarget`` for ``ssh://`` targets.

The remote folder has exactly the layout of the contract's section 4 and is written with the
local deployer's rules and names: a release is unpacked into ``releases/.staging-<id>-<pid>-<hex>``,
made durable, then renamed to ``releases/<id>``; ``CURRENT`` and ``config.json`` are replaced by
renaming ``.CURRENT.tmp-<hex>`` and ``.config.json.tmp-<hex>`` over them; the deploy order is
the modification time of ``.release.json``; only Deploy Center's own entries are ever deleted.

Each call costs a few round trips for the whole batch, whatever its size:

- ``stage``: one script checks every module folder and reports CURRENT, config.json and the
  releases there; one tar stream carries every new release into its staging folder, with the
  next ``CURRENT`` and ``config.json`` under temp names, and ``sync`` makes it durable; one
  script renames every staging folder into place, stamps the deploy order and syncs again.
- ``switch``: one script renames the temp files over ``config.json``, then ``CURRENT``. When
  the switch is not to what this target staged (a switch back, or another process staged it),
  one tar stream writes the temp files first. Should ``CURRENT`` fail after ``config.json``
  switched, the previous ``config.json`` is written back. ``flush`` is one ``sync``.
- reads: one script each; ``read_live`` hashes the live files on the server.

Scripts without data go through one long-lived remote shell (``ssh_session``); the tar streams
get a session each. A batch is cut at 2,000 modules (the argument lists of the one ``tar`` or
``touch`` per script must stay under the system's limit). A failure of the connection, or of
``tar`` (a full disk), fails every module of that batch, each with the reason and the
front-end's location; what the batch wrote is removed, or, when the connection is gone, left
under staging and temp names that the next ``stage`` of those modules clears.
"""

from __future__ import annotations

import logging
import os
import posixpath
import secrets
import shlex
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from app.engine.frontend import ssh_remote as remote
from app.engine.frontend import tar_stream
from app.engine.frontend.layout import OWNER_FILE
from app.engine.frontend.ssh_plans import (
    KEEP,
    Change,
    FolderReport,
    Prepared,
    StagePlan,
    batches,
    check_name,
    check_release_id,
    checked_names,
    current_bytes,
    first_line,
    is_release_name,
    metas,
    move_failures,
    parse_info,
    valid_name,
)
from app.engine.frontend.ssh_remote import (
    CONFIG,
    RELEASE_INFO,
    RELEASES,
    STAGING_PREFIX,
    Output,
)
from app.engine.frontend.ssh_session import Completed, Limits, Session, SessionError
from app.engine.frontend.ssh_url import SshUrl, parse_ssh_url
from app.engine.frontend.target import (
    FrontendError,
    LiveRelease,
    Prune,
    ReleaseFiles,
    ReleaseMeta,
    Staged,
    StageResult,
    Switch,
)
from app.engine.names import NAME_PATTERN

_log = logging.getLogger(__name__)
_ROOT_PROBLEMS = {"missing": "folder does not exist", "notdir": "is not a folder",
                  "sync": "could not make the writes durable (sync failed)",
                  "noaccess": "cannot be entered (permission denied)", "readonly": "is not writable"}


class SshTarget:
    """One front-end folder on an SSH server; one connection, made on first use, closed by ``close``.

    Calls may come from any thread (each runs on the connection's own loop), but the caller
    must not work on the same module from two calls at once; the engine's module locks see to
    that. The target cannot cross into another process: make one in each worker process.
    """

    def __init__(self, name: str, location: str | SshUrl, limits: Limits | None = None) -> None:
        self._name = name
        self._url = location if isinstance(location, SshUrl) else parse_ssh_url(location)
        self._location = str(self._url)
        self._root = self._url.path
        self._session = Session(self._url, limits or Limits())
        # Set when a call lost the connection: clean-ups then leave their leftovers to the next
        # stage (which clears them) instead of waiting for a server that is gone.
        self._lost = False
        # Per module, the temp files the last stage left for its switch (see Prepared).
        self._prepared: dict[str, Prepared] = {}

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
        """Run a script with ``$1`` = the root: with data on stdin as a command of its own, without
        in the connection's long-lived shell (no session to start, no login shell start-up)."""
        try:
            if stdin is None:
                return self._session.shell(f"set -- {shlex.quote(self._root)}\n{script}")
            return self._session.run(remote.command(script, self._root), stdin)
        except SessionError as error:
            self._lost = True
            raise self._error(str(error)) from None

    def _read(self, script: str) -> Output:
        done = self._run(script)
        out = Output.parse(done.stdout)
        problem = out.failure()
        if problem is not None:
            raise self._error(_ROOT_PROBLEMS.get(problem, problem))
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

    def list_modules(self) -> list[str]:
        out = self._read(remote.list_modules_script())
        return sorted(r[1] for r in out.records if r[0] == "M" and len(r) > 1 and NAME_PATTERN.match(r[1]))

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
        digests = remote.hashes(line for record in out.records for line in [" ".join(record)])
        others = [line for line in out.sections.get("other", []) if line]
        found: dict[str, tuple[dict[str, Any] | None, dict[str, str | None]]] = {}
        for module, folder in folders.items():
            prefix = folder + "/"
            files: dict[str, str | None] = {
                path[len(prefix):]: digest for path, digest in digests.items() if path.startswith(prefix)
            }
            files.update({path[len(prefix):]: None for path in others if path.startswith(prefix)})
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
        stamps = remote.mtimes(out.sections.get("stat", []))
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

    # ---------------------------------------------------------------- staging

    def stage(self, releases: Sequence[ReleaseFiles]) -> list[StageResult]:
        for release in releases:
            check_name(release.module)
            check_release_id(release.release_id)
        results: list[StageResult] = []
        for part in batches(list(releases), key=lambda r: r.module):
            results.extend(self._stage_batch(part))
        return results

    def _stage_batch(self, releases: Sequence[ReleaseFiles]) -> list[StageResult]:
        self._lost = False
        try:
            modules, ids = [r.module for r in releases], [r.release_id for r in releases]
            found = self._inspect(modules, ids, stage=True, dump="cks")
        except FrontendError as error:
            return [error] * len(releases)
        plans = [StagePlan(release, info) for release, info in zip(releases, found, strict=True)]
        for plan in plans:
            plan.decide(self._error, self._path)
        stamp = max([time.time_ns(), *(mtime + 1 for plan in plans for mtime in plan.info.releases.values())])
        writing = [plan for plan in plans if plan.staging is not None]
        if writing:
            # The temp CURRENT and config.json ride along, so that switch has only renames to do.
            tarred = [plan for plan in plans if plan.error is None]
            for plan in tarred:
                plan.add_temps()
            failure = self._send_releases(tarred, stamp)
            if failure is not None:
                self._forget(tarred)
                for plan in tarred:
                    plan.error = failure
        self._finish_stage(plans, stamp)
        for plan in plans:
            if plan.error is None and plan.temps:
                self._prepared[plan.release.module] = plan.prepared()
            else:
                self._prepared.pop(plan.release.module, None)
        return [plan.result() for plan in plans]

    def _send_releases(self, plans: Sequence[StagePlan], stamp: int) -> FrontendError | None:
        seconds = stamp // 1_000_000_000

        def stream() -> Iterator[bytes]:
            for plan in plans:
                if plan.staging is not None:
                    base = plan.staging_path()
                    for name, data in plan.release.files.items():
                        yield from tar_stream.tar_member_parts(f"{base}/{name}", data, seconds)
                    yield tar_stream.tar_member(f"{base}/{RELEASE_INFO}", plan.release.info, seconds)
                for name, temp, mode in plan.temps:
                    yield tar_stream.tar_member(name, temp, seconds, mode)
            yield tar_stream.tar_end()

        try:
            done = self._run(remote.extract_script(), tar_stream.coalesced(stream()))
        except FrontendError as error:
            return error
        if done.status != 0:
            return self._error(self._command_problem(done, "unpacking the releases"))
        return None

    def _forget(self, plans: Sequence[StagePlan]) -> None:
        """Best effort: remove what a failed batch unpacked, and the folders it made."""
        trees = [path for plan in plans for path in plan.leftovers()]
        folders = [folder for plan in plans for folder in plan.made_folders()]
        if self._lost:
            return
        try:
            self._run(remote.remove_paths_script([], trees, folders))
        except FrontendError as error:
            _log.warning("%s", error)

    def _finish_stage(self, plans: Sequence[StagePlan], stamp: int) -> None:
        """Rename the staged releases into place, stamp their order, clear what failed, sync."""
        renaming = [plan for plan in plans if plan.error is None and plan.staging is not None]
        placed = [plan for plan in plans if plan.error is None and plan.ready]
        failed = [plan for plan in plans if plan.error is not None and (plan.staging is not None or plan.temps)]
        if not (placed or failed) or self._lost:
            lost = self._error("the connection was lost during the batch")
            for plan in placed if self._lost else []:
                plan.error = lost
            return
        moves = [move for plan in renaming for move in (("g", plan.release.module, "-"),
                                                         ("n", plan.staging_path(), plan.target_path()))]
        lines = remote.finish_stage_lines(
            remote.iso_stamp(stamp),
            [f"{plan.target_path()}/{RELEASE_INFO}" for plan in placed],
            [path for plan in failed for path in plan.leftovers()],
            [folder for plan in failed for folder in plan.made_folders()],
        )
        try:
            out = self._read(remote.moves_script(moves, lines))
        except FrontendError as error:
            for plan in placed:
                plan.error = error
            return
        refused = move_failures(out)
        unplaced = [plan for plan in renaming if plan.release.module in refused]
        for plan in unplaced:
            where, problem = refused[plan.release.module]
            source, destination = self._path(plan.staging_path()), self._path(where)
            plan.error = self._error(f"cannot rename {source} to {destination}: {problem}")
        if unplaced:
            self._forget(unplaced)

    def discard(self, staged: Sequence[Staged]) -> None:
        mine = [s for s in staged if s.created and valid_name(s.module) and is_release_name(s.release_id)]
        if not mine:
            return
        try:
            current = self.read_current([s.module for s in mine])
            self._remove_releases([(s.module, s.release_id) for s in mine if current.get(s.module) != s.release_id])
        except FrontendError as error:
            _log.warning("could not discard staged releases: %s", error)

    def _doomed_name(self, release: str) -> str:
        return f"{STAGING_PREFIX}{release}-{os.getpid()}-{secrets.token_hex(4)}"

    # ---------------------------------------------------------------- switching

    def switch(self, switches: Sequence[Switch]) -> list[FrontendError | None]:
        changes = []
        for s in switches:
            prepared = self._prepared.pop(s.module, None)
            if prepared is not None and (prepared.release_id, prepared.config) == (s.release_id, s.config):
                changes.append(prepared.change(s.module))
            else:
                changes.append(Change(s.module, current_bytes(s.release_id), s.config))
        errors = self._change(changes)
        # Temp files left by stage can be gone (another stage of the module cleared them): write anew.
        gone = [i for i, error in enumerate(errors) if error is not None and changes[i].written
                and "No such file" in str(error)]
        if gone:
            again = self._change([Change(switches[i].module, current_bytes(switches[i].release_id), switches[i].config)
                                  for i in gone])
            for i, error in zip(gone, again, strict=True):
                errors[i] = error
        return errors

    def write_config(self, configs: Sequence[tuple[str, bytes | None]]) -> None:
        errors = self._change([Change(module, KEEP, config) for module, config in configs])
        for error in errors:
            if error is not None:
                raise error
        self.flush()

    def flush(self) -> None:
        done = self._run(remote.sync_script())
        if done.status != 0:
            raise self._error(self._command_problem(done, "flushing the switches to disk"))

    # ---------------------------------------------------------------- ownership

    def read_owner(self) -> bytes | None:
        done = self._run(f'cd "$1" 2>/dev/null || exit 3; [ -f {OWNER_FILE} ] || exit 3; exec cat {OWNER_FILE}')
        if done.status == 3:
            return None  # no folder yet, or no stamp in it
        if done.status != 0:
            raise self._error(self._command_problem(done, "reading the ownership stamp"))
        return done.stdout

    def write_owner(self, stamp: bytes) -> None:
        script = (
            f'mkdir -p "$1" && cd "$1" && t=".{OWNER_FILE}.tmp-$$" && cat > "$t" && mv -f "$t" {OWNER_FILE}'
        )
        done = self._run(script, [stamp])
        if done.status != 0:
            raise self._error(self._command_problem(done, "writing the ownership stamp"))

    def _change(self, changes: Sequence[Change]) -> list[FrontendError | None]:
        for change in changes:
            check_name(change.module)
        errors: list[FrontendError | None] = []
        for part in batches(list(changes), key=lambda c: c.module):
            errors.extend(self._change_batch(part))
        return errors

    def _change_batch(self, changes: Sequence[Change]) -> list[FrontendError | None]:
        self._lost = False
        errors: dict[int, FrontendError] = {}
        for change in changes:
            change.prepare(self._root)
        unknown = [c for c in changes if c.both() and c.previous_config is KEEP]
        if unknown:  # read what a failed switch would have to put back
            try:
                previous = self.read_config([c.module for c in unknown])
            except FrontendError as error:
                return [error] * len(changes)
            for change in unknown:
                change.previous_config = previous.get(change.module)
        writing = [i for i, c in enumerate(changes) if c.temps()]
        if writing:
            failure = self._send_temps([changes[i] for i in writing], errors, writing)
            if failure is not None:
                return [failure] * len(changes)
        going = [i for i in range(len(changes)) if i not in errors]
        try:
            out = self._read(remote.moves_script([move for i in going for move in changes[i].moves()]))
        except FrontendError as error:
            return [errors.get(i, error) for i in range(len(changes))]
        refused = move_failures(out)
        for i in going:
            change = changes[i]
            if change.module in refused:
                where, problem = refused[change.module]
                change.config_done = change.config is not KEEP and not where.endswith(f"/{CONFIG}")
                errors[i] = self._error(f"switching {self._path(change.module)} failed: {self._path(where)}: {problem}")
        self._put_back([changes[i] for i in errors])
        return [errors.get(i) for i in range(len(changes))]

    def _put_back(self, failed: Sequence[Change]) -> None:
        """Best effort: the previous config.json where a switch failed half-way."""
        undo = [change for change in (c.undo() for c in failed) if change is not None]
        if undo and not self._lost:
            for error in self._change(undo):
                if error is not None:
                    _log.error("%s", error)

    def _send_temps(
        self, changes: Sequence[Change], errors: dict[int, FrontendError], index: Sequence[int]
    ) -> FrontendError | None:
        """Write the temp files of ``changes`` (at ``index``), where the module folder is there."""
        try:
            out = self._read(remote.folders_script([change.module for change in changes]))
        except FrontendError as error:
            return error
        missing = {record[1] for record in out.records if record[0] == "F" and len(record) > 1}
        for i, change in zip(index, changes, strict=True):
            if change.module in missing:
                errors[i] = self._error(self._folder_problem(change.module, "nofolder"))
        kept = [change for change in changes if change.module not in missing]
        if not kept:
            return None
        stamp = int(time.time())
        members = [
            tar_stream.tar_member(name, data, stamp, mode=_temp_mode(name))
            for change in kept
            for name, data in change.temps()
        ]
        try:
            done = self._run(remote.extract_script(), [*members, tar_stream.tar_end()])
        except FrontendError as error:
            return error
        if done.status != 0:
            self._drop_temps(kept)
            return self._error(self._command_problem(done, "writing CURRENT and config.json"))
        return None

    def _drop_temps(self, changes: Sequence[Change]) -> None:
        files = [name for change in changes for name, _data in change.temps()]
        if self._lost:
            return
        try:
            self._run(remote.remove_paths_script(files, [], []))
        except FrontendError as error:
            _log.warning("%s", error)

    # ---------------------------------------------------------------- pruning and removal

    def prune(self, prunes: Sequence[Prune]) -> None:
        try:
            for part in batches(list(prunes), key=lambda p: p.module):
                self._prune_batch(part)
        except FrontendError as error:
            _log.warning("could not prune old releases: %s", error)

    def _prune_batch(self, prunes: Sequence[Prune]) -> None:
        found = self._inspect([p.module for p in prunes], None, stage=False, dump="s")
        doomed: list[tuple[str, str]] = []
        for rule, info in zip(prunes, found, strict=True):
            if info.problem is not None:
                continue
            keep = set(rule.protect) | ({info.current} if info.current else set())
            others = sorted((stamp, name) for name, stamp in info.releases.items() if name not in keep)
            doomed.extend((rule.module, name) for _stamp, name in others[: max(len(others) - rule.keep, 0)])
        self._remove_releases(doomed)

    def _remove_releases(self, releases: Sequence[tuple[str, str]]) -> None:
        """Rename each to a staging name (so no half-deleted release looks whole), then delete them."""
        for part in batches(list(releases), key=lambda pair: pair[0] + pair[1]):
            self._remove_release_batch(part)

    def _remove_release_batch(self, releases: Sequence[tuple[str, str]]) -> None:
        moves: list[remote.Move] = []
        doomed = []
        for module, release in releases:
            doomed.append(f"{module}/{RELEASES}/{self._doomed_name(release)}")
            moves += [("g", module, "-"), ("n", f"{module}/{RELEASES}/{release}", doomed[-1])]
        if not moves:
            return
        out = self._read(remote.moves_script(moves, [f"rm -rf -- {remote.words(doomed)}"]))
        for module, (where, problem) in move_failures(out).items():
            _log.warning("front-end %s: could not remove %s of %s: %s", self._location, where, module, problem)

    def remove(self, modules: Sequence[str]) -> None:
        for part in batches(checked_names(modules)):
            out = self._read(remote.remove_modules_script(part, f"{os.getpid()}-{secrets.token_hex(4)}"))
            problems = [record for record in out.records if record[0] == "R"]
            if problems:
                where = problems[0][2] if len(problems[0]) > 2 else problems[0][1]
                raise self._error(f"could not remove {self._path(where)}")

    def close(self) -> None:
        self._session.close()


def _temp_mode(name: str) -> int:
    """A temp file's mode: the next config.json is private (section 9), the next CURRENT is not."""
    return 0o600 if name.rpartition("/")[2].startswith(f".{CONFIG}") else 0o644
