"""Deploy All as a whole command against ``cp -r`` + ``sync`` of the same bundles, in turn.

    .venv/bin/python bench/deploy_copy.py --modules 2000 --rounds 5              # small modules
    .venv/bin/python bench/deploy_copy.py --modules 2000 --shape 45k --rounds 5  # bench/modules.py
    .venv/bin/python bench/deploy_copy.py --modules 2000 --b ../base --rounds 5  # and other checkouts
    .venv/bin/python bench/deploy_copy.py --modules 1000 --switch-only --rounds 5

The environment is prepared once (``init``, ``publish``, ``upgrade --to 11.19.0`` by checkout A's
command line) and kept as a snapshot; every trial deploys a fresh copy of it
(``deploy_pair.trial``: copied and synced outside the timing). Each round times checkout A's
Deploy All, then B's if given, then ``cp -r`` of the bundle folders into a new folder followed by
``sync``. Figures: medians of the per-round ratios, and each side's median wall and CPU seconds.

With ``--switch-only``, a second snapshot is the first after ``deploy-all --stage`` (every release
on the front-end, nothing live yet), and each round also times checkout A's Deploy All on a copy
of it: the switch-only run of a two-stage maintenance window, against the full one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import deploy_pair, modules, small_modules


def timed_copy(bundles: Path, target: Path) -> float:
    subprocess.run(["sync"], check=True)
    clock = time.perf_counter()
    subprocess.run(["sh", "-c", 'cp -r "$0" "$1" && sync', str(bundles), str(target)], check=True)
    return time.perf_counter() - clock


def trial(checkout: Path, snapshot: Path, scratch: Path) -> tuple[float, float]:
    """``deploy_pair.trial`` on a new folder (``scratch`` must not exist yet)."""
    return deploy_pair.trial(checkout, snapshot, scratch)


def stage_copy(checkout: Path, snapshot: Path, staged: Path) -> None:
    """``staged``: a copy of ``snapshot`` whose releases ``deploy-all --stage`` has put on its front-end."""
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(snapshot, staged, symlinks=True)
    deploy_pair.point_frontend(staged, snapshot)
    (staged / "frontends" / "default" / ".deploycenter-owner").unlink(missing_ok=True)
    done = deploy_pair.run(checkout, "deploy-all", "--stage", "--data-dir", str(staged))
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: deploy-all --stage exited {done.returncode}: {done.stderr[-2000:]}")
    (staged / ".prepared").write_text("done\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", default=str(REPO), help="checkout A (default: this one)")
    parser.add_argument(
        "--b",
        action="append",
        default=[],
        help="another checkout timed in the same rounds (repeat for more: B, C, ...)",
    )
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--shape", choices=("small", "45k"), default="small")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", default="/var/tmp/deploycenter-copy", help="scratch folder (on the disk to measure)")
    parser.add_argument("--switch-only", action="store_true", help="also time Deploy All after --stage")
    parser.add_argument("--keep", action="store_true", help="keep the bundles and the snapshot for the next call")
    options = parser.parse_args()
    work = Path(options.work) / f"{options.shape}-{options.modules}"
    work.mkdir(parents=True, exist_ok=True)
    if options.shape == "small":
        bundles = small_modules.generate(work / "bundles", options.modules)
    else:
        bundles = list(modules.generate(work / "bundles", options.modules).bundles)
    snapshot = work / "snapshot"
    if not (snapshot / ".prepared").exists():
        if snapshot.exists():
            shutil.rmtree(snapshot)
        print(f"preparing {options.modules} {options.shape} modules: publish and upgrade", flush=True)
        deploy_pair.prepare(Path(options.a).resolve(), snapshot, bundles)
        (snapshot / ".prepared").write_text("done\n")
    staged = work / "snapshot-staged"
    if options.switch_only and not (staged / ".prepared").exists():
        stage_copy(Path(options.a).resolve(), snapshot, staged)
    sides = {"A": Path(options.a).resolve()}
    for label, other in zip("BCDEFG", options.b, strict=False):
        sides[label] = Path(other).resolve()
    figures: dict[str, list[tuple[float, float]]] = {label: [] for label in sides}
    copies: list[float] = []
    switches: list[tuple[float, float]] = []
    for number in range(1, options.rounds + 1):
        for label, checkout in sides.items():
            wall, cpu = trial(checkout, snapshot, work / f"run-{label}-{number}")
            figures[label].append((wall, cpu))
            print(f"round {number} {label}: {wall:.2f} s wall, {cpu:.2f} s cpu", flush=True)
        if options.switch_only:
            wall, cpu = trial(sides["A"], staged, work / f"run-switch-{number}")
            switches.append((wall, cpu))
            print(f"round {number} A switch-only: {wall:.2f} s wall, {cpu:.2f} s cpu", flush=True)
        copies.append(timed_copy(work / "bundles", work / f"copy-{number}"))
        print(f"round {number} cp -r + sync: {copies[-1]:.2f} s", flush=True)
    print(f"cp -r + sync: median {statistics.median(copies):.2f} s (min {min(copies):.2f}, max {max(copies):.2f})")
    for label in sides:
        walls = [wall for wall, _cpu in figures[label]]
        cpus = [cpu for _wall, cpu in figures[label]]
        ratios = [wall / copy for wall, copy in zip(walls, copies, strict=True)]
        print(
            f"{label}: wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f}); "
            f"cpu median {statistics.median(cpus):.2f} s; / copy: median {statistics.median(ratios):.2f} "
            f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
        )
    for label in list(sides)[1:]:
        pairs = [a[0] / b[0] for a, b in zip(figures["A"], figures[label], strict=True)]
        print(f"A/{label} wall: median {statistics.median(pairs):.3f} (min {min(pairs):.3f}, max {max(pairs):.3f})")
    if switches:
        pairs = [switch[0] / full[0] for switch, full in zip(switches, figures["A"], strict=True)]
        walls = [wall for wall, _cpu in switches]
        print(
            f"A switch-only: wall median {statistics.median(walls):.2f} s "
            f"(min {min(walls):.2f}, max {max(walls):.2f}); / A full: median {statistics.median(pairs):.3f} "
            f"(min {min(pairs):.3f}, max {max(pairs):.3f}; target <= 0.25)"
        )
    # Nothing is deleted while trials run: creating files on ext4 right after deleting many costs
    # seconds of kernel time here (see RESULTS.md, "the filesystem").
    for folder in work.iterdir():
        if folder.name.startswith(("run-", "copy-")):
            shutil.rmtree(folder)
    if not options.keep:
        shutil.rmtree(work)
    os.sync()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
