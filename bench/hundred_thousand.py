"""Publish, upgrade and Deploy All of 100,000 real small modules, end to end, with time and memory.

    .venv/bin/python bench/hundred_thousand.py --count 100000 --json-out bench/out/hundred_thousand.json

Writes ``--count`` bundles of ``bench/small_modules.py`` (three files of 0.5-6 KB each, in
applications of 25, up to two producers each) once under ``--work``, then, on a fresh
environment with one local front-end, each phase in its own process:

- ``init --platform 11.18.1`` (the command line);
- publish of every bundle in one run (the engine's ``operations.publish`` in a child process:
  100,000 paths do not fit on one command line);
- ``upgrade --to 11.19.0`` and ``deploy-all`` (the command line);
- ``status``, ``deploy-all --dry-run`` and ``verify`` afterwards (the command line).

Each phase's wall time is read around the process, and its user and system time and peak RSS
from ``os.wait4``: the peak is the largest single process among it and the worker processes it
waited for, not their sum. Commands run with bytecode caching on, as an installed package runs.
Nothing is deleted while it measures (see bench/engine.py on ext4 and recently freed inodes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import small_modules

FROM_PLATFORM = "11.18.1"
TO_PLATFORM = "11.19.0"
DEFAULT_WORK = Path("/var/tmp/deploycenter-100k")
CLI_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def publish_phase(data_dir: Path, bundles_root: Path, count: int, workers: int | None) -> int:
    """The publish run, in this (child) process."""
    from app.engine import operations
    from app.engine.context import Location, open_context

    bundles = small_modules.generate(bundles_root, count)
    ctx = open_context(Location(data_dir))
    try:
        outcome = operations.publish(ctx, bundles, workers=workers)
    finally:
        ctx.close()
    print(json.dumps({"status": outcome.status}))
    return 0 if outcome.status == "succeeded" else 1


def timed(name: str, command: list[str], log: Path) -> dict[str, Any]:
    """Run ``command`` to its end; its wall time, CPU time and peak RSS (its own or a child's)."""
    with log.open("ab") as sink:
        sink.write(f"\n==== {name}: {' '.join(command[:8])}{' ...' if len(command) > 8 else ''}\n".encode())
        sink.flush()
        clock = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env=CLI_ENV, stdout=sink, stderr=sink)
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - clock
    process.returncode = os.waitstatus_to_exitcode(status)
    figures = {
        "phase": name,
        "exit": process.returncode,
        "wall_s": round(wall, 2),
        "user_s": round(usage.ru_utime, 2),
        "sys_s": round(usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }
    print(json.dumps(figures), flush=True)
    return figures


def cli(data_dir: Path, *arguments: str) -> list[str]:
    return [sys.executable, "-m", "app", "--unattended", *arguments, "--data-dir", str(data_dir)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--workers", type=int, help="the engine's default when not given")
    parser.add_argument("--no-verify", action="store_true", help="skip the final verify")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--phase", choices=["publish"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    bundles_root = args.work / f"bundles-{args.count}"
    if args.phase == "publish":
        return publish_phase(args.data_dir, bundles_root, args.count, args.workers)

    clock = time.perf_counter()
    small_modules.generate(bundles_root, args.count)
    print(json.dumps({"bundles_written_s": round(time.perf_counter() - clock, 1)}), flush=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_root = args.work / f"run-{args.count}-{stamp}"
    data_dir, frontend = run_root / "env", run_root / "fe"
    run_root.mkdir(parents=True)
    log = run_root / "commands.log"
    workers = ["--workers", str(args.workers)] if args.workers else []
    publish = [
        sys.executable,
        __file__,
        "--phase",
        "publish",
        "--count",
        str(args.count),
        "--work",
        str(args.work),
        "--data-dir",
        str(data_dir),
        *workers,
    ]
    steps = [
        ("init", cli(data_dir, "init", "--platform", FROM_PLATFORM, "--frontend", str(frontend))),
        ("publish", publish),
        ("upgrade", cli(data_dir, "upgrade", "--to", TO_PLATFORM, *workers)),
        ("deploy-all", cli(data_dir, "deploy-all", *workers)),
        ("status", cli(data_dir, "status")),
        ("status --json", cli(data_dir, "status", "--json")),
        ("deploy-all --dry-run", cli(data_dir, "deploy-all", "--dry-run")),
    ]
    if not args.no_verify:
        steps.append(("verify", cli(data_dir, "verify")))
    results = []
    for name, command in steps:
        figures = timed(name, command, log)
        results.append(figures)
        if figures["exit"] != 0:
            print(f"{name} exited {figures['exit']}; see {log}", file=sys.stderr)
            break
    summary = {"count": args.count, "run": str(run_root), "phases": results, "load_average": os.getloadavg()}
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if all(r["exit"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
