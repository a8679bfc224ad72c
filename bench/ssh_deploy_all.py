"""Deploy All as a whole command to SSH front-ends: against ``rsync -a``, and three servers against one.

    .venv/bin/python bench/ssh_deploy_all.py --modules 2000 --rounds 5

Starts three throwaway OpenSSH servers on 127.0.0.1 (``tests/sshd.py``), writes ``--modules``
bundles of three files of 0.5-6 KB each (as ``bench/ssh_frontend.py``), and prepares two
environments outside the timing with the command line (``init``, ``publish`` on 11.18.1, then
``upgrade --to 11.19.0``): "one" has the front-end ``ssh://srv1/...``, "three" has one on each
server. Each is kept as a snapshot: its data dir and its front-end folders on the servers.

Every trial copies the snapshot's data dir and its front-end folders to fresh places, points
the copy's front-ends at the fresh folders, removes the ``.deploycenter-owner`` stamps (a copy
is another environment to them, as in ``bench/deploy_pair.py``), flushes the disk, and times
``python -m app --unattended deploy-all`` from process start to exit. The rsync trial copies,
with ``rsync -a`` over ssh (same server, same client configuration) into an empty folder, a
local tree of exactly what one Deploy All wrote: each module's new release, ``CURRENT`` and
``config.json``. Each round runs one, rsync, three, in that order, so slow minutes move all of
them; the figures are the medians of the per-round ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

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


def command(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(
        [sys.executable, "-m", "app", "--unattended", *arguments, "--data-dir", str(data_dir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def prepare(data_dir: Path, servers: Sequence[SshServer], name: str, bundles: list[Path]) -> list[Path]:
    """The snapshot environment: its data dir, and its front-end folders on ``servers`` (returned)."""
    folders = [server.folder(f"snap-{name}") for server in servers]
    fronts = [
        arg for server, folder in zip(servers, folders, strict=True) for arg in ("--frontend", server.url(folder))
    ]
    for arguments in (["init", *fronts], ["publish", *map(str, bundles)], ["upgrade", "--to", "11.19.0"]):
        done = command(data_dir, *arguments)
        if done.returncode != 0:
            raise SystemExit(f"{name}: {arguments[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return folders


def fresh_copy(snapshot: Path, folders: list[Path], scratch: Path) -> tuple[Path, list[Path]]:
    """A copy of the snapshot's data dir and front-end folders, pointed at each other."""
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(snapshot, scratch, symlinks=True)
    copies = []
    for folder in folders:
        copy = folder.with_name(f"{folder.name}-trial")
        if copy.exists():
            shutil.rmtree(copy)
        subprocess.run(["cp", "-a", str(folder), str(copy)], check=True)
        (copy / ".deploycenter-owner").unlink(missing_ok=True)
        copies.append(copy)
    connection = sqlite3.connect(scratch / "deploycenter.sqlite3")
    try:
        for folder, copy in zip(folders, copies, strict=True):
            connection.execute("UPDATE frontend SET path = replace(path, ?, ?)", (f"{folder}", f"{copy}"))
        connection.commit()
    finally:
        connection.close()
    return scratch, copies


def timed_deploy_all(data_dir: Path) -> tuple[float, float]:
    """Wall and CPU seconds (this machine's side: the command and its workers) of one Deploy All."""
    subprocess.run(["sync"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    done = command(data_dir, "deploy-all")
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"deploy-all exited {done.returncode}: {done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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


def timed_rsync(made: Farm, server: SshServer, source: Path) -> tuple[float, float]:
    target = server.folder("rsync")
    shutil.rmtree(target)
    target.mkdir()
    subprocess.run(["sync"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    subprocess.run(
        ["rsync", "-a", "-e", f"ssh -F {made.config} -o BatchMode=yes", f"{source}/", f"{server.alias}:{target}/"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
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
    bundles = write_bundles(work / "bundles", options.modules)
    with farm() as made:
        os.environ[CONFIG_ENV] = str(made.config)
        servers = [made.add_server() for _ in range(3)]
        for server in servers:  # the servers' folders on the same disk as the rest
            (work / server.alias).mkdir()
            (server.root / "srv").symlink_to(work / server.alias)
        started = time.perf_counter()
        print(f"preparing two environments of {options.modules} modules (publish, upgrade) ...", flush=True)
        snaps = {
            "one": (work / "snap-one", prepare(work / "snap-one", servers[:1], "one", bundles)),
            "three": (work / "snap-three", prepare(work / "snap-three", servers, "three", bundles)),
        }
        print(f"prepared in {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}", flush=True)
        figures: dict[str, list[tuple[float, float]]] = {"one": [], "rsync": [], "three": []}
        source = work / "written"
        payload = 0
        loads = []
        for number in range(1, options.rounds + 1):
            for label in ("one", "rsync", "three"):
                if label == "rsync":
                    figures[label].append(timed_rsync(made, servers[0], source))
                else:
                    snapshot, folders = snaps[label]
                    data_dir, copies = fresh_copy(snapshot, folders, work / f"run-{label}")
                    figures[label].append(timed_deploy_all(data_dir))
                    if label == "one" and number == 1:
                        payload = what_was_written(copies[0], source)
                loads.append(os.getloadavg()[0])
                wall, cpu = figures[label][-1]
                print(
                    f"round {number} {label}: {wall:.2f} s wall, {cpu:.2f} s cpu here, load {loads[-1]:.1f}", flush=True
                )
    print(
        f"{options.modules} modules; one Deploy All writes {payload / 1e6:.1f} MB "
        f"(releases, CURRENT, config.json) per front-end"
    )
    for label, values in figures.items():
        walls = [wall for wall, _cpu in values]
        print(
            f"{label}: wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}); "
            f"cpu here median {statistics.median(cpu for _wall, cpu in values):.2f} s"
        )
    to_rsync = [a[0] / b[0] for a, b in zip(figures["one"], figures["rsync"], strict=True)]
    three = [a[0] / b[0] for a, b in zip(figures["three"], figures["one"], strict=True)]
    print(
        f"one front-end / rsync -a: median {statistics.median(to_rsync):.2f}x "
        f"(min {min(to_rsync):.2f}, max {max(to_rsync):.2f}; target < 2x)"
    )
    print(
        f"three front-ends / one: median {statistics.median(three):.2f}x "
        f"(min {min(three):.2f}, max {max(three):.2f}; target < 1.3x)"
    )
    print(f"load average during the trials: {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
