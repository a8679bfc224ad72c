"""Stage and switch many small modules to SSH front-ends, against ``rsync -a`` of the same bytes.

Starts throwaway OpenSSH servers on 127.0.0.1 (``tests/sshd.py``: one sshd per simulated
server), generates ``--modules`` modules of three files of 0.5-6 KB each, and measures, each run
on fresh remote folders:

- ``ssh``: one ``SshTarget`` (connection included): ``stage`` every release, ``switch`` every
  module, ``flush``, as the engine does for one front-end;
- ``rsync``: ``rsync -a`` over ssh (same server, same ssh configuration) of a local folder laid
  out exactly as the front-end ends up (releases, ``.release.json``, ``CURRENT``, ``config.json``);
- ``ssh x3``: the same to three servers at once, one thread and one ``SshTarget`` each.

``--second`` measures the next deploy instead: version 1 is deployed first (not timed), then
version 2 of every module goes over it (and ``prune`` runs), against ``rsync -a`` of the
version 2 tree over a copy of the version 1 tree.

Prints the median of ``--runs`` runs of each. ``--folder-root`` picks where the servers keep their
front-ends (default: a temporary folder on the disk, so ``sync`` costs what it costs).

    .venv/bin/python bench/ssh_frontend.py --modules 2000 --runs 5
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app.engine.blobs import blob_size, read_all
from app.engine.frontend.ssh.options import CONFIG_ENV
from app.engine.frontend.ssh.target import SshTarget
from app.engine.frontend.target import Prune, ReleaseFiles, Staged, Switch
from tests.sshd import Farm, SshServer, farm


def make_releases(count: int, seed: int = 7, version: int = 1) -> list[ReleaseFiles]:
    rng = random.Random(seed + version)
    releases = []
    for index in range(count):
        module = f"Mod{index:05d}"
        files = {f"src/{name}": _text(rng, rng.randint(512, 6144)) for name in ("main.py", "view.py", "style.css")}
        sha = hashlib.sha256(f"{module}-{version}".encode()).hexdigest()
        info = {
            "module": module,
            "version": version,
            "platform": "11.19.0",
            "artifact_sha256": sha,
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        }
        releases.append(
            ReleaseFiles(
                module=module,
                release_id=f"v{version}-11.19.0-{sha[:12]}",
                artifact_sha256=sha,
                files=files,
                info=(json.dumps(info, sort_keys=True, separators=(",", ":")) + "\n").encode(),
                config=(json.dumps({"MaxRows": str(index)}, indent=2) + "\n").encode(),
            )
        )
    return releases


def _text(rng: random.Random, size: int) -> bytes:
    words = [b"def", b"return", b"self", b"value", b"module", b"color", b"margin", b"=", b":", b"\n"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + b" "
    return bytes(out[:size])


def deploy_over_ssh(server: SshServer, folder: Path, releases: Sequence[ReleaseFiles], prune: bool = False) -> None:
    target = SshTarget(server.alias, server.url(folder))
    try:
        results = target.stage(releases)
        failed = [r for r in results if not isinstance(r, Staged)]
        if failed:
            raise RuntimeError(f"stage failed: {failed[0]}")
        errors = target.switch([Switch(r.module, r.release_id, r.config) for r in releases])
        if any(errors):
            raise RuntimeError(f"switch failed: {next(e for e in errors if e)}")
        target.flush()
        if prune:
            target.prune([Prune(r.module, frozenset({r.release_id}), keep=3) for r in releases])
    finally:
        target.close()


def write_local_copy(root: Path, releases: Sequence[ReleaseFiles]) -> None:
    for release in releases:
        folder = root / release.module / "releases" / release.release_id
        for name, data in release.files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(read_all(data))
        (folder / ".release.json").write_bytes(release.info)
        (root / release.module / "CURRENT").write_text(f"{release.release_id}\n")
        (root / release.module / "config.json").write_bytes(release.config)


def rsync(made: Farm, server: SshServer, source: Path, folder: Path) -> None:
    subprocess.run(
        ["rsync", "-a", "-e", f"ssh -F {made.config} -o BatchMode=yes", f"{source}/", f"{server.alias}:{folder}/"],
        check=True,
        capture_output=True,
        timeout=600,
    )


def timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def server_cpu(servers: Sequence[SshServer]) -> float:
    """CPU seconds of the servers' finished sessions (sshd, shells, tar, sftp-server, rsync).

    A finished session's CPU time ends up in its listener's "children" times once reaped.
    """
    total = 0
    for server in servers:
        assert server.process is not None
        fields = Path(f"/proc/{server.process.pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[13]) + int(fields[14])  # cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


class Cpu:
    """Client (this process) and server CPU seconds spent in a block."""

    def __init__(self, servers: Sequence[SshServer]) -> None:
        self.servers = servers
        self.client = self.server = 0.0

    def __enter__(self) -> Cpu:
        self._client, self._server = _own_cpu(), server_cpu(self.servers)
        return self

    def __exit__(self, *_exc: object) -> None:
        time.sleep(0.2)  # let the listeners reap the sessions that just ended
        self.client = _own_cpu() - self._client
        self.server = server_cpu(self.servers) - self._server


def _own_cpu() -> float:
    """This process and its finished children (rsync and its ssh)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def fresh(server: SshServer, name: str) -> Path:
    folder = server.folder(name)
    shutil.rmtree(folder)
    folder.mkdir()
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--folder-root", type=Path, default=None)
    parser.add_argument(
        "--second",
        action="store_true",
        help="measure a second deploy (version 2 over version 1, then prune), not the first",
    )
    args = parser.parse_args(argv)
    if shutil.which("rsync") is None:
        print("rsync is missing: apt-get install rsync", file=sys.stderr)
        return 1
    releases = make_releases(args.modules, version=2 if args.second else 1)
    earlier = make_releases(args.modules, version=1) if args.second else []
    payload = sum(blob_size(d) for r in releases for d in r.files.values())
    print(f"{args.modules} modules, {3 * args.modules} files, {payload / 1e6:.1f} MB of content", flush=True)
    work = Path(tempfile.mkdtemp(prefix="deploycenter-bench-ssh-", dir=args.folder_root))
    source = work / "source"
    write_local_copy(source, releases)
    first_source = work / "first"
    if earlier:
        write_local_copy(first_source, earlier)
    with farm() as made:
        os.environ[CONFIG_ENV] = str(made.config)
        servers = [made.add_server() for _ in range(3)]
        if args.folder_root is not None:
            for server in servers:
                (work / server.alias).mkdir()
                server.root.joinpath("srv").symlink_to(work / server.alias)
        figures: dict[str, list[float]] = {"ssh": [], "rsync": [], "ssh x3": []}
        cpu: dict[str, list[tuple[float, float]]] = {key: [] for key in figures}
        for run in range(args.runs):
            one = fresh(servers[0], "one")
            if earlier:
                deploy_over_ssh(servers[0], one, earlier)
            with Cpu(servers) as used:
                figures["ssh"].append(
                    timed(functools.partial(deploy_over_ssh, servers[0], one, releases, bool(earlier)))
                )
            cpu["ssh"].append((used.client, used.server))
            copy = fresh(servers[0], "copy")
            if earlier:
                rsync(made, servers[0], first_source, copy)
            with Cpu(servers) as used:
                figures["rsync"].append(timed(functools.partial(rsync, made, servers[0], source, copy)))
            cpu["rsync"].append((used.client, used.server))
            folders = [fresh(server, "three") for server in servers]
            for server, folder in zip(servers, folders, strict=True):
                if earlier:
                    deploy_over_ssh(server, folder, earlier)
            threads = [
                threading.Thread(target=deploy_over_ssh, args=(s, f, releases, bool(earlier)))
                for s, f in zip(servers, folders, strict=True)
            ]

            def three(threads: list[threading.Thread] = threads) -> None:
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()

            with Cpu(servers) as used:
                figures["ssh x3"].append(timed(three))
            cpu["ssh x3"].append((used.client, used.server))
            print(
                f"run {run + 1}: "
                + ", ".join(
                    f"{k} {v[-1]:.2f} s (cpu here {cpu[k][-1][0]:.2f} s, servers {cpu[k][-1][1]:.2f} s)"
                    for k, v in figures.items()
                ),
                flush=True,
            )
            if not earlier and not _same_tree(copy, one):
                print("the SSH front-end and the rsync copy differ", file=sys.stderr)
                return 1
    shutil.rmtree(work, ignore_errors=True)
    median = {key: statistics.median(values) for key, values in figures.items()}
    print(
        f"median of {args.runs}: ssh {median['ssh']:.2f} s, rsync -a {median['rsync']:.2f} s, "
        f"ssh to 3 front-ends {median['ssh x3']:.2f} s"
    )
    for key, values in cpu.items():
        print(
            f"  {key}: cpu here {statistics.median(v[0] for v in values):.2f} s, "
            f"servers {statistics.median(v[1] for v in values):.2f} s (medians)"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(
        f"ssh / rsync = {median['ssh'] / median['rsync']:.2f}x (target < 2x); "
        f"3 front-ends / 1 = {median['ssh x3'] / median['ssh']:.2f}x (target < 1.3x)"
    )
    return 0


def _same_tree(left: Path, right: Path) -> bool:
    def listing(root: Path) -> dict[str, bytes | None]:
        return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}

    return listing(left) == listing(right)


if __name__ == "__main__":
    sys.exit(main())
