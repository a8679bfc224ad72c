"""Two-stage maintenance window: how long the switch-only Deploy All takes after ``deploy-all --stage``.

    .venv/bin/python bench/stage_switch.py --count 2000 [--frontends 2] [--json-out FILE]

Builds two identical environments (``bench/modules.py`` bundles, published on 11.18.1, upgraded to
11.19.0), then times, each phase in its own child process:

- full: Deploy All of every prepared module in the first environment (stage and switch);
- stage: ``deploy-all --stage`` in the second (the work done before the window);
- switch: Deploy All in the second, which finds every release staged and only switches.

The target is switch <= full / 4. Wall time and CPU time
(this process and its deploy processes) are both reported: on a shared machine the wall time of
the same phase varies by 2x from one minute to the next.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import modules

DEFAULT_WORK = Path("/var/tmp/deploycenter-bench-stage")


def phase(args: argparse.Namespace) -> dict[str, Any]:
    """One phase in this process."""
    from app.engine import operations
    from app.engine.context import Location, open_context

    location = Location(Path(args.data_dir))
    if args.phase == "setup":
        frontends = [str(Path(args.data_dir).parent / f"fe{i + 1}") for i in range(args.frontends)]
        ctx = operations.init_environment(location, platform="11.18.1", frontends=frontends)
        bundles = modules.generate(Path(args.bundles), args.count).bundles
        operations.publish(ctx, bundles)
        operations.upgrade(ctx, "11.19.0")
        ctx.close()
        return {}
    ctx = open_context(location)
    user, system = cpu_seconds()
    clock = time.perf_counter()
    outcome = operations.stage_all(ctx) if args.phase == "stage" else operations.deploy_all(ctx)
    seconds = time.perf_counter() - clock
    ctx.close()
    user_after, system_after = cpu_seconds()
    return {
        "seconds": seconds,
        "cpu_seconds": user_after - user + system_after - system,
        "user_seconds": user_after - user,
        "system_seconds": system_after - system,
        "status": str(outcome.status),
    }


def cpu_seconds() -> tuple[float, float]:
    """User and system time of this process and its finished children (the deploy processes).

    Less sensitive than wall time to other work on a shared machine, so both are reported.
    """
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + children.ru_utime, own.ru_stime + children.ru_stime


def child(args: argparse.Namespace, name: str, data_dir: Path, script: str = __file__, *extra: str) -> dict[str, Any]:
    """Run phase ``name`` of ``script`` (this bench, or another built the same way) in a child
    process, with the sizes of ``args`` and ``extra`` arguments; what it printed last, as JSON."""
    command = [sys.executable, script, "--phase", name, "--data-dir", str(data_dir)]
    command += ["--count", str(args.count), "--frontends", str(args.frontends), "--bundles", str(args.work / "bundles")]
    done = subprocess.run([*command, *extra], capture_output=True, text=True, check=True, cwd=REPO)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--frontends", type=int, default=1)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--settle", type=float, default=60.0, help="seconds to wait after the setup")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--bundles", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args)))
        return
    for name in ("full", "staged"):
        shutil.rmtree(args.work / name, ignore_errors=True)
    modules.generate(args.work / "bundles", args.count)
    full_dir, staged_dir = args.work / "full" / "env", args.work / "staged" / "env"
    for data_dir in (full_dir, staged_dir):
        child(args, "setup", data_dir)
    # On ext4, creating files within a minute of deleting many costs seconds of kernel time (see
    # bench/engine.py): the setup's own deletes and writes settle before anything is timed.
    time.sleep(args.settle)
    full = child(args, "deploy-all", full_dir)
    stage = child(args, "stage", staged_dir)
    switch = child(args, "deploy-all", staged_dir)
    result = {
        "count": args.count,
        "frontends": args.frontends,
        "full_deploy_all": full,
        "stage": stage,
        "switch_only_deploy_all": switch,
        "switch_over_full": switch["seconds"] / full["seconds"],
        "switch_over_full_cpu": switch["cpu_seconds"] / full["cpu_seconds"],
    }
    print(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    for name in ("full", "staged"):
        shutil.rmtree(args.work / name, ignore_errors=True)


if __name__ == "__main__":
    main()
