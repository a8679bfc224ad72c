"""What a rolling run with hooks adds to Deploy All: 2,000 modules on three front-ends.

    .venv/bin/python bench/rolling_overhead.py [--count 2000] [--frontends 3] [--rounds 2] [--json-out FILE]

Builds two identical environments (``bench/modules.py`` bundles, published on 11.18.1, upgraded to
11.19.0, on three local front-ends). In the second, every front-end gets no-op hooks: ``true`` as
its drain, undrain and health command. Then, each in its own child process, it times a plain
Deploy All in the first and ``deploy-all --rolling`` in the second, rolls both back to 11.18.1's
releases (``rollback RUN``, not timed) and does it again ``--rounds`` times.

What the rolling run adds: staging everything before switching, then per front-end a drain, a
switch of every module, a flush, a health check and an undrain, where a plain run switches each
batch everywhere as it goes. Wall time and CPU time (the command and its deploy processes) are
both reported; on a shared machine the wall time of the same run varies from one minute to the next.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import modules, stage_switch

DEFAULT_WORK = Path("/var/tmp/deploycenter-bench-rolling")
NO_OP = "true"


def phase(args: argparse.Namespace) -> dict[str, Any]:
    """One phase in this process: set up, deploy (plain or rolling), or roll the last run back."""
    from app.engine import operations
    from app.engine.context import Location, open_context
    from app.engine.farm_admin import HookSettings, list_frontends, set_hooks
    from app.engine.runs.options import RunOptions

    location = Location(Path(args.data_dir))
    if args.phase == "setup":
        frontends = [str(Path(args.data_dir).parent / f"fe{i + 1}") for i in range(args.frontends)]
        ctx = operations.init_environment(location, platform="11.18.1", frontends=frontends)
        operations.publish(ctx, modules.generate(Path(args.bundles), args.count).bundles)
        operations.upgrade(ctx, "11.19.0")
        if args.hooks:
            hooks = HookSettings(drain_cmd=NO_OP, undrain_cmd=NO_OP, health_cmd=NO_OP)
            for frontend in list_frontends(ctx):
                set_hooks(ctx, frontend.name, hooks)
        ctx.close()
        return {}
    ctx = open_context(location)
    if args.phase == "rollback":
        from app.engine.read import views

        last = views.run_summaries(ctx, limit=1)[0]
        outcome = operations.rollback_run(ctx, last.id)
        ctx.close()
        return {"status": str(outcome.status)}
    user, system = stage_switch.cpu_seconds()
    clock = time.perf_counter()
    outcome = operations.deploy_all(ctx, options=RunOptions(rolling=args.phase == "rolling"))
    seconds = time.perf_counter() - clock
    ctx.close()
    user_after, system_after = stage_switch.cpu_seconds()
    return {"seconds": seconds, "cpu_seconds": user_after - user + system_after - system, "status": str(outcome.status)}


def child(args: argparse.Namespace, name: str, data_dir: Path, *, hooks: bool = False) -> dict[str, Any]:
    return stage_switch.child(args, name, data_dir, __file__, *(["--hooks"] if hooks else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--frontends", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait after the setup")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--bundles", help=argparse.SUPPRESS)
    parser.add_argument("--hooks", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args)))
        return
    for name in ("plain", "rolling"):
        shutil.rmtree(args.work / name, ignore_errors=True)
    modules.generate(args.work / "bundles", args.count)
    plain_dir, rolling_dir = args.work / "plain" / "env", args.work / "rolling" / "env"
    child(args, "setup", plain_dir)
    child(args, "setup", rolling_dir, hooks=True)
    time.sleep(args.settle)  # the setup's writes settle before anything is timed (see bench/engine.py)
    plain: list[dict[str, Any]] = []
    rolling: list[dict[str, Any]] = []
    for _round in range(args.rounds):
        plain.append(child(args, "plain", plain_dir))
        rolling.append(child(args, "rolling", rolling_dir))
        for data_dir in (plain_dir, rolling_dir):
            child(args, "rollback", data_dir)
    assert {r["status"] for r in plain + rolling} == {"succeeded"}, (plain, rolling)
    wall = [r["seconds"] - p["seconds"] for p, r in zip(plain, rolling, strict=True)]
    result = {
        "count": args.count,
        "frontends": args.frontends,
        "load_average": os.getloadavg(),
        "plain": plain,
        "rolling": rolling,
        "added_seconds_median": statistics.median(wall),
        "added_cpu_seconds_median": statistics.median(
            r["cpu_seconds"] - p["cpu_seconds"] for p, r in zip(plain, rolling, strict=True)
        ),
        "rolling_over_plain_median": statistics.median(
            r["seconds"] / p["seconds"] for p, r in zip(plain, rolling, strict=True)
        ),
    }
    print(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    for name in ("plain", "rolling"):
        shutil.rmtree(args.work / name, ignore_errors=True)


if __name__ == "__main__":
    main()
