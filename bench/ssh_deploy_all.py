"""Deploy All as a whole command to SSH front-ends: against ``rsync -a``, three servers against one,
and a farm at a distance against the same farm near.

    .venv/bin/python bench/ssh_deploy_all.py --modules 1000 --rounds 3 --rtt-ms 20
    .venv/bin/python bench/ssh_deploy_all.py --modules 100 --serve 12 --checkout /path/to/other/tree

Starts three throwaway OpenSSH servers on 127.0.0.1 (``tests/sshd.py``), writes ``--modules``
bundles of three files of 0.5-6 KB each (as ``bench/ssh_frontend.py``), and prepares two
environments outside the timing with the command line (``init``, ``publish`` on 11.18.1, then
``upgrade --to 11.19.0``): "one" has the front-end ``ssh://srv1/...``, "three" has one on each
server. Each is kept as a snapshot: its data dir and its front-end folders on the servers. With
``--rtt-ms``, a relay (``tests/latency_relay.py``) in front of the first server delays each
direction by half that time, and "far" is "one" reached through it.

Every trial copies the snapshot's data dir and its front-end folders to fresh places, points
the copy's front-ends at the fresh folders, removes the ``.deploycenter-owner`` stamps (a copy
is another environment to them, as in ``bench/deploy_pair.py``), flushes the disk, and times
``python -m app --unattended deploy-all --json`` from process start to exit; the run's
``stats`` (connections, sessions, channels, syncs per front-end) come from its JSON document,
and the sessions each server saw from the server's own log. The rsync trials copy, with
``rsync -a`` over ssh (same servers, same client configuration) into an empty folder, a local
tree of exactly what one Deploy All wrote (each module's new release, ``CURRENT`` and
``config.json``): "rsync" to the first server, "rsync x3" to the three at once (what the
machine allows for three front-ends). Each round runs every trial in turn, so slow minutes move
all of them; the figures are the medians of the per-round ratios.

``--serve N`` prepares instead ``N`` fresh copies of each environment (and of each for the
``--checkout`` tree, when given), writes a runner script per trial that takes the next unused
copy, prints the commands, and keeps the servers up until interrupted, so that an outside timer
times whole commands (``/usr/bin/time``, or any tool that runs A and B in turn).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app.engine.frontend.ssh.options import CONFIG_ENV
from tests.sshd import Farm, SshServer, farm


def write_bundles(root: Path, count: int, seed: int = 7) -> list[Path]:
    """``count`` bundles, each three files of 0.5-6 KB (two Python files of comments, one stylesheet)."""
    rng = random.Random(seed)
    words = ["def", "return", "self", "value", "module", "color", "margin", "=", ":"]
    bundles = []
    for index in range(count):
        folder = root / f"Mod{index:05d}"
        (folder / "src").mkdir(parents=True)
        (folder / "module.toml").write_text(f'name = "Mod{index:05d}"\n')
        for name in ("main.py", "view.py", "style.css"):
            size = rng.randint(512, 6144)
            lead = "# " if name.endswith(".py") else "/* "
            text = ""
            while len(text) < size:
                text += lead + " ".join(rng.choice(words) for _ in range(10)) + (" */\n" if lead == "/* " else "\n")
            (folder / "src" / name).write_text(text[:size].rsplit("\n", 1)[0] + "\n")
        bundles.append(folder)
    return bundles


def command(data_dir: Path, *arguments: str, checkout: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(
        [sys.executable, "-m", "app", "--unattended", *arguments, "--data-dir", str(data_dir)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@dataclass
class Snapshot:
    """A prepared environment: its data dir, its front-end folders, and the alias of each one's server."""

    data_dir: Path
    folders: list[Path]
    aliases: list[str]


def prepare(data_dir: Path, servers: Sequence[SshServer], name: str, bundles: list[Path]) -> Snapshot:
    """The snapshot environment, and its front-end folders on ``servers``."""
    folders = [server.folder(f"snap-{name}") for server in servers]
    fronts = [
        arg for server, folder in zip(servers, folders, strict=True) for arg in ("--frontend", server.url(folder))
    ]
    for arguments in (["init", *fronts], ["publish", *map(str, bundles)], ["upgrade", "--to", "11.19.0"]):
        done = command(data_dir, *arguments)
        if done.returncode != 0:
            raise SystemExit(f"{name}: {arguments[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return Snapshot(data_dir, folders, [server.alias for server in servers])


def fresh_copy(snapshot: Snapshot, scratch: Path, tag: str, aliases: Sequence[str] | None = None) -> list[Path]:
    """A copy of the snapshot's data dir at ``scratch`` and of its front-end folders (``-<tag>``),
    pointed at each other, each front-end reached through ``aliases`` when given."""
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(snapshot.data_dir, scratch, symlinks=True)
    copies = []
    for folder in snapshot.folders:
        copy = folder.with_name(f"{folder.name}-{tag}")
        if copy.exists():
            shutil.rmtree(copy)
        subprocess.run(["cp", "-a", str(folder), str(copy)], check=True)
        (copy / ".deploycenter-owner").unlink(missing_ok=True)
        copies.append(copy)
    connection = sqlite3.connect(scratch / "deploycenter.sqlite3")
    try:
        reached = aliases or snapshot.aliases
        for folder, copy, alias, new in zip(snapshot.folders, copies, snapshot.aliases, reached, strict=True):
            connection.execute(
                "UPDATE frontend SET path = ? WHERE path = ?", (f"ssh://{new}{copy}", f"ssh://{alias}{folder}")
            )
        connection.commit()
    finally:
        connection.close()
    return copies


@dataclass
class Trial:
    wall: float
    cpu: float
    stats: dict[str, Any] = field(default_factory=dict)  # the run's statistics, from its --json document
    sessions: int = 0  # sessions the servers logged


def server_sessions(servers: Sequence[SshServer]) -> int:
    """Sessions (commands and shells) the servers logged so far."""
    return sum(server.log().count("Starting session:") for server in servers)


def timed_deploy_all(data_dir: Path, servers: Sequence[SshServer]) -> Trial:
    """Wall and CPU seconds (this machine's side: the command and its workers) of one Deploy All."""
    subprocess.run(["sync"], check=True)
    sessions = server_sessions(servers)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    done = command(data_dir, "deploy-all", "--json")
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"deploy-all exited {done.returncode}: {done.stderr[-2000:]}")
    time.sleep(0.2)  # the servers' logs are read by threads
    stats = json.loads(done.stdout)["run"].get("stats") or {}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Trial(wall, cpu, stats, server_sessions(servers) - sessions)


def what_was_written(front: Path, out: Path) -> int:
    """A local tree of what Deploy All wrote to ``front``: new releases, CURRENT, config.json; bytes."""
    if out.exists():
        shutil.rmtree(out)
    total = 0
    for module in sorted(p for p in front.iterdir() if p.is_dir()):
        release = (module / "CURRENT").read_text().strip()
        shutil.copytree(module / "releases" / release, out / module.name / "releases" / release)
        for name in ("CURRENT", "config.json"):
            shutil.copy2(module / name, out / module.name / name)
    for path in out.rglob("*"):
        total += path.stat().st_size if path.is_file() else 0
    return total


def rsync_command(made: Farm, alias: str, source: Path, target: Path) -> list[str]:
    return ["rsync", "-a", "-e", f"ssh -F {made.config} -o BatchMode=yes", f"{source}/", f"{alias}:{target}/"]


def timed_rsync(made: Farm, servers: Sequence[SshServer], source: Path) -> Trial:
    """``rsync -a`` of ``source`` to an empty folder on each server, all at once."""
    commands = []
    for server in servers:
        target = server.folder("rsync")
        shutil.rmtree(target)
        target.mkdir()
        commands.append(rsync_command(made, server.alias, source, target))
    subprocess.run(["sync"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    running = [subprocess.Popen(each, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for each in commands]
    for process in running:
        _, err = process.communicate(timeout=600)
        if process.returncode != 0:
            raise SystemExit(f"rsync exited {process.returncode}: {err.decode(errors='replace')[-2000:]}")
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Trial(wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def start_servers(made: Farm, work: Path, rtt_ms: float) -> tuple[list[SshServer], str | None]:
    """Three servers whose folders are under ``work`` (on the disk measured), and the alias of the
    first one through a latency relay when ``rtt_ms`` is set."""
    os.environ[CONFIG_ENV] = str(made.config)
    servers = [made.add_server() for _ in range(3)]
    for server in servers:
        (work / server.alias).mkdir()
        (server.root / "srv").symlink_to(work / server.alias)
    far = made.add_distant_alias(servers[0], rtt_ms / 1000) if rtt_ms > 0 else None
    return servers, far


def print_stats(label: str, trial: Trial) -> None:
    counts = " ".join(f"{key}={value}" for key, value in sorted(_per_frontend(trial.stats).items()))
    print(f"    {label}: per front-end {counts or '(no stats in the run document)'}; server sessions {trial.sessions}")


def _per_frontend(stats: dict[str, Any]) -> dict[str, int]:
    """The largest figure of each kind over the run's front-ends."""
    found: dict[str, int] = {}
    for figures in (stats.get("frontends") or {}).values():
        for key, value in figures.items():
            if isinstance(value, int):
                found[key] = max(found.get(key, 0), value)
    return found


def rounds(options: argparse.Namespace, work: Path, bundles: list[Path]) -> None:
    with farm() as made:
        servers, far = start_servers(made, work, options.rtt_ms)
        started = time.perf_counter()
        print(f"preparing two environments of {options.modules} modules (publish, upgrade) ...", flush=True)
        snaps = {
            "one": prepare(work / "snap-one", servers[:1], "one", bundles),
            "three": prepare(work / "snap-three", servers, "three", bundles),
        }
        print(f"prepared in {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}", flush=True)
        labels = ["one", "rsync", "three", "rsync x3", *(["far"] if far else [])]
        figures: dict[str, list[Trial]] = {label: [] for label in labels}
        source = work / "written"
        payload = 0
        loads = []
        for number in range(1, options.rounds + 1):
            for label in labels:
                if label.startswith("rsync"):
                    trial = timed_rsync(made, servers if label == "rsync x3" else servers[:1], source)
                else:
                    snap = snaps["three" if label == "three" else "one"]
                    copies = fresh_copy(snap, work / f"run-{label}", "trial", [far] if label == "far" and far else None)
                    trial = timed_deploy_all(work / f"run-{label}", servers)
                    if label == "one" and number == 1:
                        payload = what_was_written(copies[0], source)
                figures[label].append(trial)
                loads.append(os.getloadavg()[0])
                seconds = f"{trial.wall:.2f} s wall, {trial.cpu:.2f} s cpu here"
                print(f"round {number} {label}: {seconds}, load {loads[-1]:.1f}", flush=True)
                if not label.startswith("rsync"):
                    print_stats(label, trial)
    print(
        f"{options.modules} modules; one Deploy All writes {payload / 1e6:.1f} MB "
        f"(releases, CURRENT, config.json) per front-end"
    )
    for label, values in figures.items():
        walls = [trial.wall for trial in values]
        print(
            f"{label}: wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}); "
            f"cpu here median {statistics.median(trial.cpu for trial in values):.2f} s"
        )
    ratio(figures, "one", "rsync", "one front-end / rsync -a", "target < 2x")
    ratio(figures, "three", "one", "three front-ends / one", "target < 1.5x")
    ratio(figures, "rsync x3", "rsync", "three rsync -a at once / one", "what the machine allows")
    if far:
        ratio(figures, "far", "one", f"one front-end at {options.rtt_ms:g} ms round trip / direct", "target < 1.5x")
    print(f"load average during the trials: {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores")


def ratio(figures: dict[str, list[Trial]], a: str, b: str, what: str, target: str) -> None:
    values = [x.wall / y.wall for x, y in zip(figures[a], figures[b], strict=True)]
    print(f"{what}: median {statistics.median(values):.2f}x (min {min(values):.2f}, max {max(values):.2f}; {target})")


def serve(options: argparse.Namespace, work: Path, bundles: list[Path]) -> None:
    """Prepare copies and runner scripts for an outside timer; keep the servers up until interrupted."""
    trees = {"a": REPO, **({"b": Path(options.checkout).resolve()} if options.checkout else {})}
    with farm() as made:
        servers, far = start_servers(made, work, options.rtt_ms)
        snaps = {
            "one": prepare(work / "snap-one", servers[:1], "one", bundles),
            "three": prepare(work / "snap-three", servers, "three", bundles),
        }
        written = work / "written"
        fresh_copy(snaps["one"], work / "probe", "probe")
        done = command(work / "probe", "deploy-all")
        if done.returncode != 0:
            raise SystemExit(f"deploy-all exited {done.returncode}: {done.stderr[-2000:]}")
        what_was_written(snaps["one"].folders[0].with_name(f"{snaps['one'].folders[0].name}-probe"), written)
        scripts = work / "scripts"
        scripts.mkdir()
        runs = [("one", "one", None), ("three", "three", None), *([("far", "one", [far])] if far else [])]
        for tree_name, tree in trees.items():
            for label, snap_name, aliases in runs:
                for number in range(options.serve):
                    tag = f"{label}-{tree_name}-{number}"
                    fresh_copy(snaps[snap_name], work / "copies" / tag, tag, aliases)
                runner = scripts / f"{label}-{tree_name}.sh"
                runner.write_text(_runner(work, made, label, tree_name, tree))
                runner.chmod(0o755)
        for count in (1, 3):
            runner = scripts / f"rsync{count}.sh"
            runner.write_text(_rsync_runner(work, made, servers[:count], written))
            runner.chmod(0o755)
        subprocess.run(["sync"], check=True)
        print(f"ready: {options.serve} copies per trial; runners in {scripts}:", flush=True)
        for runner in sorted(scripts.iterdir()):
            print(f"  {runner}", flush=True)
        print(f"SIGINT or SIGTERM (kill {os.getpid()}) stops the servers and removes everything", flush=True)

        def stop(_signum: int, _frame: Any) -> None:
            raise KeyboardInterrupt

        for number in (signal.SIGINT, signal.SIGTERM):  # a background job may have SIGINT ignored
            signal.signal(number, stop)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def _runner(work: Path, made: Farm, label: str, tree_name: str, tree: Path) -> str:
    """A script that runs Deploy All on the next unused copy (the counter is a file beside it)."""
    counter = work / "scripts" / f"next-{label}-{tree_name}"
    copies = work / "copies"
    return (
        "#!/bin/sh\n"
        f"i=$(cat {counter} 2>/dev/null || echo 0); echo $((i + 1)) > {counter}\n"
        f"export {CONFIG_ENV}={made.config}\n"
        "unset PYTHONDONTWRITEBYTECODE  # as installed: the bytecode is cached\n"
        f"cd {tree} && exec {sys.executable} -m app --unattended deploy-all --json "
        f'--data-dir "{copies}/{label}-{tree_name}-$i" > "{copies}/{label}-{tree_name}-$i.json"\n'
    )


def _rsync_runner(work: Path, made: Farm, servers: Sequence[SshServer], source: Path) -> str:
    """A script that rsyncs what one Deploy All wrote to a new folder on each server, all at once."""
    counter = work / "scripts" / f"next-rsync{len(servers)}"
    lines = ["#!/bin/sh", f"i=$(cat {counter} 2>/dev/null || echo 0); echo $((i + 1)) > {counter}"]
    for server in servers:
        target = f"{server.root}/srv/rsync{len(servers)}-$i"
        words = rsync_command(made, server.alias, source, Path("TARGET"))
        quoted = " ".join(f"'{word}'" for word in words[:-1])
        lines.append(f'{quoted} "{server.alias}:{target}/" &')
    lines.append("wait")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="also time one front-end at this round trip")
    parser.add_argument("--serve", type=int, default=0, metavar="N", help="prepare N copies for an outside timer")
    parser.add_argument("--checkout", help="with --serve: copies and runners for this other tree too")
    parser.add_argument(
        "--work",
        default="/var/tmp/deploycenter-ssh-deploy-all",
        help="scratch folder, servers' folders included (on the disk to measure)",
    )
    options = parser.parse_args()
    if shutil.which("rsync") is None:
        print("rsync is missing: apt-get install rsync", file=sys.stderr)
        return 1
    work = Path(options.work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    try:
        bundles = write_bundles(work / "bundles", options.modules)
        if options.serve:
            serve(options, work, bundles)
        else:
            rounds(options, work, bundles)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
