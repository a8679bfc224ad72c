"""A front-end folder on another machine, reached over SSH: ``FrontendTarget`` for ``ssh://`` targets.

The remote folder has exactly the layout of rules.md#layout and is written with the
local deployer's rules and names: a release is unpacked into ``releases/.staging-<id>-<pid>-<hex>``,
made durable, then renamed to ``releases/<id>``; ``CURRENT`` and ``config.json`` are replaced by
renaming ``.CURRENT.tmp-<hex>`` and ``.config.json.tmp-<hex>`` over them; the deploy order is
the modification time of ``.release.json``; only Deploy Center's own entries are ever deleted.

Each call costs a few round trips for the whole batch, whatever its size:

- ``stage``: one script checks every module folder and reports CURRENT, config.json and the
  releases there; then one script, fed the tar stream of every new release (with the next
  ``CURRENT`` and ``config.json`` under temp names), unpacks it into the staging folders, syncs,
  renames every staging folder into place, stamps the deploy order and syncs again.
- ``switch``: one script renames the temp files over ``config.json``, then ``CURRENT``. When
  the switch is not to what this target staged (a switch back, or another process staged it),
  the release is first checked complete there, and one tar stream writes the temp files.
  Should ``CURRENT`` fail after ``config.json`` switched, the previous ``config.json`` is
  written back. ``flush`` is one ``sync``, shared by every caller asking at the same time.
- ``prune`` right after this target staged and switched a module reads nothing again: what the
  stage found is still true under the run's module locks; removing is one script, when needed.
- reads: one script each; ``read_live`` hashes the live files on the server.

Every script, tar streams included, goes through the connection's one long-lived remote shell
(``shell.RemoteShell``), pipelined: the batches of several threads share it without waiting for
each other's replies. A script that ends with a status other than 0 was cut short and fails.
A batch is cut at 2,000 modules (the argument lists of the one ``tar`` or ``touch`` per script
must stay under the system's limit). A failure of the connection, or of ``tar`` (a full disk),
fails every module of that batch, each with the reason and the front-end's location; what the
batch wrote is removed, or, when the connection is gone, left under staging and temp names that
the next ``stage`` of those modules clears.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Iterator, Sequence

from app.engine.frontend.layout import OWNER_FILE, check_module_name, is_leftover_path, is_module_name
from app.engine.frontend.ssh import remote, tar_stream
from app.engine.frontend.ssh.options import Limits
from app.engine.frontend.ssh.output import Output
from app.engine.frontend.ssh.plans import (
    KEEP,
    Change,
    Prepared,
    StagePlan,
    batches,
    check_release_id,
    checked_names,
    current_bytes,
    is_release_name,
    move_failures,
)
from app.engine.frontend.ssh.read import SshFolderReader
from app.engine.frontend.ssh.remote import CONFIG, RELEASE_INFO, RELEASES, STAGING_PREFIX
from app.engine.frontend.ssh.url import SshUrl
from app.engine.frontend.target import (
    FrontendError,
    Prune,
    ReleaseFiles,
    Staged,
    StageResult,
    Switch,
)

_log = logging.getLogger(__name__)


class SshTarget(SshFolderReader):
    """One front-end folder on an SSH server; one connection, made on first use, closed by ``close``.

    Calls may come from any thread (each runs on the connection's own loop), but the caller
    must not work on the same module from two calls at once; the engine's module locks see to
    that. The target cannot cross into another process: make one in each worker process.
    """

    def __init__(self, name: str, location: str | SshUrl, limits: Limits | None = None) -> None:
        super().__init__(name, location, limits)
        # Per module, the temp files the last stage left for its switch (see Prepared).
        self._prepared: dict[str, Prepared] = {}
        # Per module, its releases with their deploy stamps as its last stage found and left them,
        # and, once this target switched it, what CURRENT names: a prune right after needs no
        # script to read them again (the run's module locks keep them true until then).
        self._staged_here: dict[str, dict[str, int]] = {}
        self._known: dict[str, tuple[str | None, dict[str, int]]] = {}

    # ---------------------------------------------------------------- staging

    def stage(self, releases: Sequence[ReleaseFiles]) -> list[StageResult]:
        for release in releases:
            check_module_name(release.module)
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
        # The temp CURRENT and config.json ride along with new releases, so that switch has only
        # renames to do.
        tarred = [plan for plan in plans if plan.error is None] if any(p.staging for p in plans) else []
        for plan in tarred:
            plan.add_temps()
        self._place(plans, tarred, stamp)
        for plan in plans:
            module = plan.release.module
            if plan.error is None and plan.temps:
                self._prepared[module] = plan.prepared()
            else:
                self._prepared.pop(module, None)
            self._known.pop(module, None)
            if plan.error is None:
                self._staged_here[module] = {**plan.info.releases, plan.release.release_id: stamp}
            else:
                self._staged_here.pop(module, None)
        return [plan.result() for plan in plans]

    def _place(self, plans: Sequence[StagePlan], tarred: Sequence[StagePlan], stamp: int) -> None:
        """In one script: unpack the new releases, make them durable, rename each into place, stamp
        the deploy order of every release placed, and make that durable too."""
        placed = [plan for plan in plans if plan.error is None and plan.ready]
        if not placed:
            return
        renaming = [plan for plan in placed if plan.staging is not None]
        moves = [
            move
            for plan in renaming
            for move in (("g", plan.release.module, "-"), ("n", plan.staging_path(), plan.target_path()))
        ]
        after = remote.finish_stage_lines(
            remote.iso_stamp(stamp), [f"{plan.target_path()}/{RELEASE_INFO}" for plan in placed]
        )
        try:
            if tarred:
                self._count_syncs(2)
                out = self._unpack(remote.stage_script(moves, after), self._tar_of(tarred, stamp))
            else:
                self._count_syncs(1)
                out = self._read(remote.moves_script(moves, after))
        except FrontendError as error:
            for plan in placed:
                plan.error = error
            if tarred:
                self._forget(tarred)
            return
        refused = move_failures(out)
        unplaced = [plan for plan in renaming if plan.release.module in refused]
        for plan in unplaced:
            where, problem = refused[plan.release.module]
            source, destination = self._path(plan.staging_path()), self._path(where)
            plan.error = self._error(f"cannot rename {source} to {destination}: {problem}")
        if unplaced:
            self._forget(unplaced)

    def _tar_of(self, plans: Sequence[StagePlan], stamp: int) -> Iterator[bytes]:
        """The tar stream of the new releases and of the temp files beside them."""
        seconds = stamp // 1_000_000_000
        for plan in plans:
            if plan.staging is not None:
                base = plan.staging_path()
                for name, data in plan.release.files.items():
                    yield from tar_stream.tar_member_parts(f"{base}/{name}", data, seconds)
                yield tar_stream.tar_member(f"{base}/{RELEASE_INFO}", plan.release.info, seconds)
            for name, temp, mode in plan.temps:
                yield tar_stream.tar_member(name, temp, seconds, mode)
        yield tar_stream.tar_end()

    def _unpack(self, script: str, stream: Iterator[bytes]) -> Output:
        """Run a script that unpacks ``stream`` first, and read its records."""
        try:
            return self._read(script, stream)
        except OSError as error:  # reading a release's file here failed (a big file changed)
            raise self._error(f"reading the release files failed: {error}") from None

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

    def discard(self, staged: Sequence[Staged]) -> None:
        self._forget_known([item.module for item in staged])
        # The next CURRENT and config.json prepared for these modules go too, release reused or not.
        temps = [path for s in staged for path in self._unprepare(s.module)]
        mine = [s for s in staged if s.created and is_module_name(s.module) and is_release_name(s.release_id)]
        if self._lost or not (mine or temps):
            return  # a lost connection: the next stage of these modules, or recovery, clears them
        try:
            if mine:
                current = self.read_current([s.module for s in mine])
                self._remove_releases([(s.module, s.release_id) for s in mine if current.get(s.module) != s.release_id])
            for part in batches(temps):
                self._run(remote.remove_paths_script(part, [], []))
        except FrontendError as error:
            _log.warning("could not discard staged releases: %s", error)

    def _unprepare(self, module: str) -> list[str]:
        """Forget the temp files stage left for switching ``module``; their paths under the root."""
        prepared = self._prepared.pop(module, None)
        if prepared is None:
            return []
        return [path for path in (prepared.current_temp, prepared.config_temp) if path is not None]

    def remove_leftovers(self, modules: Sequence[str]) -> dict[str, list[str]]:
        for module in modules:
            self._unprepare(module)  # removed below with the other work files, when still there
        removed: dict[str, list[str]] = {}
        for part in batches(checked_names(modules)):
            for record in self._read(remote.leftovers_script(part, remove=True)).records:
                if len(record) < 3 or not is_leftover_path(record[2]):
                    continue
                if record[0] == "D":
                    removed.setdefault(record[1], []).append(record[2])
                elif record[0] == "E":
                    _log.warning("front-end %s: could not remove %s", self._location, self._path(record[1], record[2]))
        return {module: sorted(paths) for module, paths in removed.items()}

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
                changes.append(Change(s.module, current_bytes(s.release_id), s.config, release=s.release_id))
        errors = self._change(changes)
        # Temp files left by stage can be gone (another stage of the module cleared them): write anew.
        gone = [
            i
            for i, error in enumerate(errors)
            if error is not None and changes[i].written and "No such file" in str(error)
        ]
        if gone:
            again = self._change(
                [
                    Change(s.module, current_bytes(s.release_id), s.config, release=s.release_id)
                    for s in (switches[i] for i in gone)
                ]
            )
            for i, error in zip(gone, again, strict=True):
                errors[i] = error
        for s, error in zip(switches, errors, strict=True):
            releases = self._staged_here.pop(s.module, None)
            if error is None and releases is not None:
                self._known[s.module] = (s.release_id, releases)
            else:
                self._known.pop(s.module, None)
        return errors

    def write_config(self, configs: Sequence[tuple[str, bytes | None]]) -> None:
        errors = self._change([Change(module, KEEP, config) for module, config in configs])
        for error in errors:
            if error is not None:
                raise error
        self.flush()

    def flush(self) -> None:
        """One ``sync`` there, shared by every caller that asks at about the same time."""
        done = self._shared(remote.sync_script())
        if done.status != 0:
            raise self._error(self._command_problem(done, "flushing the switches to disk"))

    # ---------------------------------------------------------------- ownership

    def write_owner(self, stamp: bytes) -> None:
        script = f'mkdir -p "$1" && cd "$1" && t=".{OWNER_FILE}.tmp-$$" && cat > "$t" && mv -f "$t" {OWNER_FILE}'
        done = self._run(script, [stamp])
        if done.status != 0:
            raise self._error(self._command_problem(done, "writing the ownership stamp"))

    def _change(self, changes: Sequence[Change]) -> list[FrontendError | None]:
        for change in changes:
            check_module_name(change.module)
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
        self._drop_unused([changes[i] for i in errors])
        return [errors.get(i) for i in range(len(changes))]

    def _drop_unused(self, failed: Sequence[Change]) -> None:
        """Best effort: the temp files of switches that failed, which nothing will rename now."""
        files = [path for change in failed for path in (change.current_temp, change.config_temp) if path]
        if not files or self._lost:
            return
        try:
            for part in batches(files):
                self._run(remote.remove_paths_script(part, [], []))
        except FrontendError as error:
            _log.warning("%s", error)

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
            self._count_syncs(1)
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
        known = [self._known.pop(p.module, None) for p in prunes]
        if any(entry is None for entry in known):
            found = self._inspect([p.module for p in prunes], None, stage=False, dump="s")
            known = [None if info.problem is not None else (info.current, info.releases) for info in found]
        doomed: list[tuple[str, str]] = []
        for rule, entry in zip(prunes, known, strict=True):
            if entry is None:
                continue
            current, releases = entry
            keep = set(rule.protect) | ({current} if current else set())
            others = sorted((stamp, name) for name, stamp in releases.items() if name not in keep)
            doomed.extend((rule.module, name) for _stamp, name in others[: max(len(others) - rule.keep, 0)])
        self._remove_releases(doomed)

    def _forget_known(self, modules: Sequence[str]) -> None:
        for module in modules:
            self._staged_here.pop(module, None)
            self._known.pop(module, None)

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
            self._forget_known(part)
            self._count_syncs(len(part))  # one per module folder emptied
            out = self._read(remote.remove_modules_script(part, f"{os.getpid()}-{secrets.token_hex(4)}"))
            problems = [record for record in out.records if record[0] == "R"]
            if problems:
                where = problems[0][2] if len(problems[0]) > 2 else problems[0][1]
                raise self._error(f"could not remove {self._path(where)}")


def _temp_mode(name: str) -> int:
    """A temp file's mode: the next config.json is private (rules.md#secrets), the next CURRENT is not."""
    return 0o600 if name.rpartition("/")[2].startswith(f".{CONFIG}") else 0o644
