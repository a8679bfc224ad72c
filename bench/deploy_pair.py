"""Deploy All as a whole command, in two checkouts taken in turn: A, B, A, B, ...

    .venv/bin/python bench/deploy_pair.py --a . --b ../other-checkout --modules 2000 --pairs 5

Each checkout prepares its own environment once with its own code (publish of the generated
modules on 11.18.1, then ``upgrade --to 11.19.0``) and keeps it as a snapshot. Every trial copies
the snapshot to a fresh folder, flushes the disk, and times
``python -m app --unattended deploy-all`` from process start to exit. Trials alternate between
the checkouts, so a disk or a machine whose speed drifts moves both; the figure to quote is the
median of the per-pair ratios A/B, with each side's median wall and CPU seconds beside it.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import modules


def run(checkout: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.run(
        [sys.executable, "-m", "app", "--unattended", *arguments],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def prepare(checkout: Path, snapshot: Path, bundles: Sequence[Path]) -> None:
    data = ["--data-dir", str(snapshot)]
    for arguments in (["init", *data], ["publish", *map(str, bundles), *data], ["upgrade", "--to", "11.19.0", *data]):
        done = run(checkout, *arguments)
        if done.returncode not in (0, 1):  # an upgrade where legacy modules fail exits 1
            raise SystemExit(f"{checkout}: {arguments[0]} exited {done.returncode}: {done.stderr[-2000:]}")


def trial(checkout: Path, snapshot: Path, scratch: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one Deploy All on a fresh copy of ``snapshot``."""
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(snapshot, scratch, symlinks=True)
    # The copy's front-end paths point at the snapshot's: give the copy its own front-end, and
    # let it start unclaimed, as a new environment's does (a copy is another environment to it).
    point_frontend(scratch, snapshot)
    (scratch / "frontends" / "default" / ".deploycenter-owner").unlink(missing_ok=True)
    subprocess.run(["sync"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    done = run(checkout, "deploy-all", "--data-dir", str(scratch))
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: deploy-all exited {done.returncode}: {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def point_frontend(scratch: Path, snapshot: Path) -> None:
    import sqlite3

    connection = sqlite3.connect(scratch / "deploycenter.sqlite3")
    try:
        connection.execute("UPDATE frontend SET path = replace(path, ?, ?)", (str(snapshot), str(scratch)))
        connection.commit()
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="checkout A (the one measured)")
    parser.add_argument("--b", required=True, help="checkout B (the yardstick)")
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--work", default="/var/tmp/deploycenter-pair", help="scratch folder (on the disk to measure)")
    options = parser.parse_args()
    work = Path(options.work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    bundles = modules.generate(work / "bundles", options.modules).bundles
    checkouts = {"A": Path(options.a).resolve(), "B": Path(options.b).resolve()}
    for label, checkout in checkouts.items():
        print(f"preparing {label} ({checkout}): publish and upgrade of {options.modules} modules", flush=True)
        prepare(checkout, work / f"snapshot-{label}", bundles)
    figures: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
    for number in range(1, options.pairs + 1):
        for label, checkout in checkouts.items():
            wall, cpu = trial(checkout, work / f"snapshot-{label}", work / f"run-{label}")
            figures[label].append((wall, cpu))
            print(f"pair {number} {label}: {wall:.2f} s wall, {cpu:.2f} s cpu", flush=True)
    ratios = [a[0] / b[0] for a, b in zip(figures["A"], figures["B"], strict=True)]
    for label in checkouts:
        walls = [wall for wall, _cpu in figures[label]]
        cpus = [cpu for _wall, cpu in figures[label]]
        print(
            f"{label}: wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}); "
            f"cpu median {statistics.median(cpus):.2f} s"
        )
    print(f"A/B wall: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
