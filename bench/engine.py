"""Engine benchmark: publish, upgrade, Deploy All, dry run and status on synthetic module sets.

    .venv/bin/python bench/engine.py --sizes 1000,2000          # full pipeline per size
    .venv/bin/python bench/engine.py --sizes 100000 --bulk      # rows inserted directly (see bulk.py)

For every size this builds a fresh environment (platform 11.18.1, one front-end) and times, each in
its own child process so that peak memory (``ru_maxrss``) belongs to one phase:

- publish: every bundle in one publish run (compile for 11.18.1 and deploy);
- upgrade: ``upgrade --to 11.19.0`` (prepare: recompile every module);
- deploy-all: deploy every prepared module;
- dry-run: the Deploy All plan, in-process, and ``deploycenter --unattended deploy-all --dry-run``
  as a whole process, after deploy-all and again with everything ready (before deploy-all);
- status: ``deploycenter --unattended status`` as a whole process (best and median of 5).

The reference is ``cp -r`` of the bundle folders followed by ``sync``: the same files a Deploy All
writes (each release also gets a ``.build.json`` and a ``.release.json``), written and made
durable by the simplest tools on the same disk in the same run.

Nothing is deleted while measuring: on ext4, creating files soon after deleting many costs
seconds of kernel time (the allocator skips inodes freed in the last minute), which would land on
whichever phase comes next. Leftovers of an earlier run are deleted first, then the script waits
a minute; everything it creates is deleted at the end. Commands are timed with bytecode caching
on (``PYTHONDONTWRITEBYTECODE`` unset), as an installed package runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import modules

FROM_PLATFORM = "11.18.1"
TO_PLATFORM = "11.19.0"
DEFAULT_WORK = Path("/var/tmp/deploycenter-bench")


# ---------------------------------------------------------------- phases (run in a child process)


def run_phase(args: argparse.Namespace) -> dict[str, Any]:
    """One timed phase in this process; returns seconds and peak memory."""
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start()
    from app.engine import operations
    from app.engine.context import Location, open_context

    location = Location(Path(args.data_dir))
    result: dict[str, Any] = {}
    clock = time.perf_counter()
    if args.phase == "init":
        ctx = operations.init_environment(location, platform=FROM_PLATFORM)
    else:
        ctx = open_context(location)
    if args.phase == "publish":
        bundles = modules.generate(Path(args.bundles), args.count).bundles
        result["status"] = operations.publish(ctx, bundles, workers=args.workers).status
    elif args.phase == "upgrade":
        result["status"] = operations.upgrade(ctx, TO_PLATFORM, workers=args.workers).status
    elif args.phase == "deploy-all":
        result["status"] = operations.deploy_all(ctx, workers=args.workers).status
    elif args.phase == "plan":
        plan = operations.plan_deploy_all(ctx)
        result["items"] = len(plan.items)
        result["to_deploy"] = len(plan.to_deploy)
    result["seconds"] = time.perf_counter() - clock
    from app.engine import durability

    result["flushes"] = durability.flush_count()
    ctx.close()
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.tracemalloc:
        import tracemalloc

        result["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    return result


def child(phase: str, data_dir: Path, options: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", phase, "--data-dir", str(data_dir)]
    if options.workers:
        command += ["--workers", str(options.workers)]
    if options.tracemalloc:
        command.append("--tracemalloc")
    for key, value in extra.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ---------------------------------------------------------------- whole-process timings


CLI_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def cli_seconds(data_dir: Path, *arguments: str, repeat: int = 5) -> tuple[float, float]:
    """Best and median wall time of ``deploycenter --unattended ARGS``, process start to exit."""
    command = [sys.executable, "-m", "app", "--unattended", "--data-dir", str(data_dir), *arguments]
    subprocess.run(command, capture_output=True, cwd=REPO, env=CLI_ENV, check=False)  # warm: bytecode, page cache
    times = []
    for _ in range(repeat):
        clock = time.perf_counter()
        done = subprocess.run(command, capture_output=True, cwd=REPO, env=CLI_ENV, check=False)
        times.append(time.perf_counter() - clock)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(arguments)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return min(times), statistics.median(times)


def copy_and_sync_seconds(source: Path, target: Path) -> tuple[float, float]:
    """``cp -r`` then ``sync``: the time to write and make durable the same files (total, sync part)."""
    subprocess.run(["sync"], check=True)  # start with nothing else waiting to be written
    clock = time.perf_counter()
    subprocess.run(["cp", "-r", str(source), str(target)], check=True)
    copied = time.perf_counter()
    subprocess.run(["sync"], check=True)
    done = time.perf_counter()
    return done - clock, done - copied


# ---------------------------------------------------------------- one size


def bench_size(count: int, options: argparse.Namespace) -> dict[str, Any]:
    work = Path(options.work)
    bundles_root = work / f"bundles-{count}"
    data_dir = work / f"env-{count}"
    clock = time.perf_counter()
    module_set = modules.generate(bundles_root, count)
    size, files = modules.folder_bytes(bundles_root)
    row: dict[str, Any] = {
        "modules": count,
        "legacy_modules": module_set.legacy,
        "bundle_mb": size / 2**20,
        "bundle_files": files,
        "generate_seconds": time.perf_counter() - clock,
    }
    say(f"{count} modules: {size / 2**20:.1f} MB in {files} files, {module_set.legacy} use soap.legacy")
    row["init"] = child("init", data_dir, options)
    row["publish"] = child("publish", data_dir, options, bundles=bundles_root, count=count)
    say(
        f"  publish     {row['publish']['seconds']:8.2f} s  ({row['publish']['status']}, "
        f"{row['publish']['flushes']} flushes, {row['publish']['max_rss_mb']:.0f} MB)"
    )
    row["upgrade"] = child("upgrade", data_dir, options)
    say(
        f"  upgrade     {row['upgrade']['seconds']:8.2f} s  ({row['upgrade']['status']}, "
        f"{row['upgrade']['flushes']} flushes, {row['upgrade']['max_rss_mb']:.0f} MB)"
    )
    row["plan_ready"] = child("plan", data_dir, options)
    row["dry_run_cli_ready"] = cli_seconds(data_dir, "deploy-all", "--dry-run", "--json", repeat=3)
    row["deploy_all"] = child("deploy-all", data_dir, options)
    say(
        f"  deploy-all  {row['deploy_all']['seconds']:8.2f} s  ({row['deploy_all']['status']}, "
        f"{row['deploy_all']['flushes']} flushes, {row['deploy_all']['max_rss_mb']:.0f} MB)"
    )
    row["plan_done"] = child("plan", data_dir, options)
    row["dry_run_cli_done"] = cli_seconds(data_dir, "deploy-all", "--dry-run", "--json", repeat=3)
    row["status_cli"] = cli_seconds(data_dir, "status")
    row["cp_sync_seconds"], row["sync_part_seconds"] = copy_and_sync_seconds(bundles_root, work / f"cp-{count}")
    row["deploy_all_ratio"] = row["deploy_all"]["seconds"] / row["cp_sync_seconds"]
    say(
        f"  cp -r+sync  {row['cp_sync_seconds']:8.2f} s  (sync {row['sync_part_seconds']:.2f} s) "
        f"-> deploy-all is {row['deploy_all_ratio']:.2f}x"
    )
    say(
        f"  dry run     {row['plan_ready']['seconds']:8.3f} s in-process, "
        f"{row['dry_run_cli_ready'][0]:.3f} s as a command"
    )
    say(f"  status      {row['status_cli'][0]:8.3f} s as a command (median {row['status_cli'][1]:.3f})")
    return row


def bench_bulk(count: int, options: argparse.Namespace) -> dict[str, Any]:
    from bench import bulk

    data_dir = Path(options.work) / f"bulk-{count}"
    clock = time.perf_counter()
    bulk.build(data_dir, count)
    row: dict[str, Any] = {"modules": count, "bulk_build_seconds": time.perf_counter() - clock}
    row["plan_ready"] = child("plan", data_dir, options)
    row["dry_run_cli_ready"] = cli_seconds(data_dir, "deploy-all", "--dry-run", "--json", repeat=3)
    row["dry_run_cli_text"] = cli_seconds(data_dir, "deploy-all", "--dry-run", repeat=3)
    row["status_cli"] = cli_seconds(data_dir, "status")
    row["status_cli_json"] = cli_seconds(data_dir, "status", "--json")
    row["modules_cli_json"] = cli_seconds(data_dir, "modules", "--json", repeat=3)
    say(f"{count} modules (rows inserted directly in {row['bulk_build_seconds']:.1f} s)")
    say(
        f"  dry run     {row['plan_ready']['seconds']:8.3f} s in-process ({row['plan_ready']['max_rss_mb']:.0f} MB), "
        f"{row['dry_run_cli_ready'][0]:.3f} s as a command (--json), {row['dry_run_cli_text'][0]:.3f} s (text)"
    )
    say(f"  status      {row['status_cli'][0]:8.3f} s as a command (median {row['status_cli'][1]:.3f})")
    say(f"  modules     {row['modules_cli_json'][0]:8.3f} s as a command (--json)")
    return row


def machine() -> dict[str, Any]:
    import sqlite3

    import sqlalchemy

    def shell(command: str) -> str:
        return subprocess.run(command, shell=True, capture_output=True, text=True, check=False).stdout.strip()

    return {
        "cores": os.cpu_count(),
        "memory": shell("free -h | awk '/Mem:/ {print $2}'"),
        "disk": shell(f"df -h {DEFAULT_WORK.parent} | tail -1"),
        "filesystem": shell(f"findmnt -n -o FSTYPE,OPTIONS -T {DEFAULT_WORK.parent}"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "load": os.getloadavg(),
    }


def clear_leftovers(work: Path) -> None:
    """Delete an earlier run's files, then let ext4 forget the freed inodes (see the module doc)."""
    leftovers = [path for path in work.iterdir() if not path.name.startswith("bundles-")]
    if not leftovers:
        return
    say(f"deleting {len(leftovers)} leftover folder(s) in {work}, then waiting 65 s for the filesystem")
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["sync"], check=True)
    time.sleep(65)


def say(text: str) -> None:
    print(text, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,2000", help="comma-separated module counts")
    parser.add_argument(
        "--bulk", action="store_true", help="insert rows directly and time only dry run, status and modules"
    )
    parser.add_argument("--workers", type=int, default=0, help="run workers (default: the engine's)")
    parser.add_argument("--work", default=str(DEFAULT_WORK), help="scratch folder (on the disk to measure)")
    parser.add_argument("--keep", action="store_true", help="keep the environments for inspection")
    parser.add_argument("--tracemalloc", action="store_true", help="also report Python's traced peak (slower)")
    parser.add_argument("--json-out", help="also write the figures to this file")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--bundles", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.phase:
        print(json.dumps(run_phase(options)))
        return 0
    work = Path(options.work)
    work.mkdir(parents=True, exist_ok=True)
    clear_leftovers(work)
    sizes = [int(text.replace("_", "")) for text in options.sizes.split(",") if text.strip()]
    about = machine()
    say(f"machine: {json.dumps(about)}")
    rows = [bench_bulk(n, options) if options.bulk else bench_size(n, options) for n in sizes]
    about["load_after"] = os.getloadavg()
    if options.json_out:
        Path(options.json_out).write_text(json.dumps({"machine": about, "sizes": rows}, indent=2) + "\n")
    if not options.keep:
        for path in work.iterdir():
            if not path.name.startswith("bundles-"):
                shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
