"""Saving and checking a saved plan of 10,000 modules: each must take under a second.

    .venv/bin/python bench/plan_scale.py --count 10000 [--repeat 5] [--work DIR]

Builds the environment once with ``bench/bulk.py`` (rows as right after ``upgrade --to 11.19.0``:
most modules ready, those that use a removed capability failed to compile and keep their live
build), then, in this process, times:

- save: ``saved_plans.save_plan`` of a Deploy All, what ``deploy-all --plan-out FILE`` does (the
  kind's own planner, the plan's document and its sha256, the row stored, the file written);
- check: ``saved_plans.check_plan`` of that file, what running it or approving it does before
  anything else (the plan made again and compared item by item);
- read: ``read_plan_file``, the file parsed and its plan_id checked (every command given the file).

Each is timed ``--repeat`` times; the best and the median of wall and CPU time are printed, with
the plan's size and the load average (the target holds for the best wall time).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app.engine.context import Location, open_context
from app.engine.control import plans as saved_plans
from app.engine.control.document import PlanTarget, read_plan_file
from app.engine.runs.options import RunOptions
from app.engine.vocabulary import RunKind
from bench import bulk

DEFAULT_WORK = Path("/var/tmp/deploycenter-bench-plan")
TARGET_S = 1.0


def timed(call: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each call: on a shared machine the wall time of the same call
    varies by 2x from one minute to the next, its CPU time much less."""
    wall, cpu = [], []
    for _ in range(repeat):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    args = parser.parse_args()
    data_dir = args.work / f"env-{args.count}"
    if not (data_dir / "deploycenter.sqlite3").exists():
        args.work.mkdir(parents=True, exist_ok=True)
        print(f"building an environment of {args.count} modules in {data_dir} ...", file=sys.stderr)
        bulk.build(data_dir, args.count)
    ctx = open_context(Location(data_dir))
    plan_file = args.work / "plan.json"
    try:
        save = timed(
            lambda: saved_plans.save_plan(ctx, RunKind.DEPLOY_ALL, PlanTarget(), RunOptions(), plan_file), args.repeat
        )
        plan = read_plan_file(plan_file)
        read = timed(lambda: read_plan_file(plan_file), args.repeat)
        check = timed(lambda: saved_plans.check_plan(ctx, plan), args.repeat)
        changes = saved_plans.check_plan(ctx, plan)
    finally:
        ctx.close()
    assert changes == (), f"the plan should still hold: {changes[:3]}"
    size = plan_file.stat().st_size
    print(
        f"plan of {len(plan.items)} items ({plan.changes} changes), file {size / 1e6:.1f} MB; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    verdict = "ok"
    for name, (wall, cpu) in (("save", save), ("check", check), ("read", read)):
        if min(wall) >= TARGET_S:
            verdict = "over target"
        print(
            f"{name:6s} wall best {min(wall):.3f} s, median {statistics.median(wall):.3f} s; "
            f"CPU best {min(cpu):.3f} s, median {statistics.median(cpu):.3f} s  (of {len(wall)})"
        )
    print(f"target: each under {TARGET_S:.0f} s: {verdict}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
