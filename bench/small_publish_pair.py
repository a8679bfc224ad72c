"""Publish and upgrade of small modules against ``cp -r`` + ``sync`` of the same bundle folders.

    .venv/bin/python bench/small_publish_pair.py --count 2000 --pairs 5

Writes ``--count`` bundles of ``bench/small_modules.py`` once, then per round, on a fresh
environment (``init`` is not timed; one local front-end):

1. ``publish`` of every bundle as one whole command, then ``cp -r`` of the bundle folders to a
   fresh folder followed by ``sync``;
2. ``upgrade --to 11.19.0`` as one whole command, then ``cp -r`` + ``sync`` again.

Each command is timed from process start to exit (wall; user + system of it and its workers), so
each ratio compares two measurements taken seconds apart; the figures are the medians of the
per-round ratios. ``sync`` runs before every timed step so that none pays for the one before.
Nothing is deleted until the end (see bench/engine.py on ext4 and recently freed inodes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import small_modules

DEFAULT_WORK = Path("/var/tmp/deploycenter-small-pairs")
CLI_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``command`` (and what it waited for), after a ``sync``."""
    subprocess.run(["sync"], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=CLI_ENV, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:6])} exited {done.returncode}: {done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cli(data_dir: Path, *arguments: str) -> list[str]:
    return [sys.executable, "-m", "app", "--unattended", *arguments, "--data-dir", str(data_dir)]


def copy_and_sync(source: Path, target: Path) -> list[str]:
    return ["sh", "-c", f'cp -r "{source}" "{target}" && sync']


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--keep", action="store_true", help="keep what the rounds wrote")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    bundles_root = args.work / f"bundles-{args.count}"
    bundles = small_modules.generate(bundles_root, args.count)
    scratch = args.work / f"rounds-{time.strftime('%Y%m%d-%H%M%S')}"
    scratch.mkdir(parents=True)
    rows = []
    for index in range(args.pairs):
        here = scratch / f"round{index}"
        data_dir = here / "env"
        done = subprocess.run(
            cli(data_dir, "init", "--platform", "11.18.1", "--frontend", str(here / "fe")),
            cwd=REPO,
            env=CLI_ENV,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"init exited {done.returncode}: {done.stderr[-2000:]}")
        publish = timed(cli(data_dir, "publish", *map(str, bundles)))
        copy1 = timed(copy_and_sync(bundles_root, here / "copy1"))
        upgrade = timed(cli(data_dir, "upgrade", "--to", "11.19.0"))
        copy2 = timed(copy_and_sync(bundles_root, here / "copy2"))
        row = {
            "publish_s": publish[0],
            "publish_cpu_s": publish[1],
            "copy_before_upgrade_s": copy1[0],
            "upgrade_s": upgrade[0],
            "upgrade_cpu_s": upgrade[1],
            "copy_after_upgrade_s": copy2[0],
            "publish_ratio": publish[0] / copy1[0],
            "upgrade_ratio": upgrade[0] / copy2[0],
            "load_average": os.getloadavg()[0],
        }
        rows.append(row)
        print(json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)
    summary = {
        "count": args.count,
        "pairs": len(rows),
        **{f"median_{key}": round(statistics.median(r[key] for r in rows), 3) for key in rows[0]},
        "rounds": rows,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "rounds"}), flush=True)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
    if not args.keep:
        shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
