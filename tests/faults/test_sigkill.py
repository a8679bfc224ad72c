"""SIGKILL a Deploy All process at random points; every time, the contract's crash promises hold.

Each CI run uses a new seed (printed on failure; set DEPLOYCENTER_FAULT_SEED to replay one) and a
bounded number of kills (DEPLOYCENTER_FAULT_KILLS, default 8; a third of that on PostgreSQL), spread
over up to three upgrade rounds of 60 modules with real content on three front-ends. After each kill:

- every CURRENT names a whole release whose files hash as its ``.release.json`` records;
- after the next command the run is ``interrupted``, no lock is left, no item is pending or deploying,
  and history never says a release is live that is not;
- right after that command, every module runs one release on all front-ends, the one the record
  says, so ``verify`` passes (rules.md#reconcile);
- at the end of each round an uninterrupted Deploy All completes and ``verify`` passes.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.context import EnvironmentContext, Location
from app.engine.read import views
from tests.conftest import Cli
from tests.faults.scenery import (
    currents,
    frontend_problems,
    history_problems,
    module_names,
    opened,
    write_modules,
)

pytestmark = pytest.mark.slow

MODULES = 60
ROUNDS = ("11.19.0", "11.19.1", "11.20.0")


def fault_seed() -> int:
    given = os.environ.get("DEPLOYCENTER_FAULT_SEED")
    return int(given) if given else time.time_ns() % 2**32


def kills_per_round(total: int) -> list[int]:
    return [total // len(ROUNDS) + (1 if i < total % len(ROUNDS) else 0) for i in range(len(ROUNDS))]


def kill_after(proc: subprocess.Popen[str], finished: int, jitter: float) -> None:
    """SIGKILL once the child reported ``finished`` modules, plus ``jitter`` seconds."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # the run's start and per-module lines; None once the child's stderr closes
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith(("[", "run ")):
                lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen = -1  # the "run N (deploy-all): ..." line comes first: the run exists from then on
    while seen < finished and lines.get(timeout=120) is not None:
        seen += 1
    time.sleep(jitter)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    reader.join(timeout=60)
    for stream in (proc.stdout, proc.stderr):
        assert stream is not None
        stream.close()


def last_deploy_all(ctx: EnvironmentContext) -> views.RunSummary | None:
    found = views.run_summaries(ctx, kinds=("deploy-all",), limit=1)
    return found[0] if found else None


def test_sigkill_at_random_points_of_deploy_all(cli: Cli, tmp_path: Path, backend_env: str | None) -> None:
    seed = fault_seed()
    rng = random.Random(seed)
    total = int(os.environ.get("DEPLOYCENTER_FAULT_KILLS", "8"))
    if backend_env is not None:
        total = max(1, total // 3)  # the server-side rollback needs fewer kills than the file layer
    frontends = [tmp_path / "fe1", tmp_path / "fe2", tmp_path / "fe3"]
    ctx = operations.init_environment(
        Location.from_options(str(cli.data_dir), None), frontends=[str(f) for f in frontends]
    )
    try:
        operations.publish(ctx, write_modules(tmp_path / "bundles", MODULES, seed), workers=2)
    finally:
        ctx.close()
    story: list[str] = [f"seed {seed}"]
    interrupted = 0

    for platform, kills in zip(ROUNDS, kills_per_round(total), strict=True):
        if not kills:
            continue
        with opened(cli) as ctx:
            assert operations.upgrade(ctx, platform, workers=2).status == "succeeded"
        for _ in range(kills):
            with opened(cli) as ctx:
                before = last_deploy_all(ctx)
                remaining = len(operations.plan_deploy_all(ctx).to_deploy)
            finished = rng.randrange(0, max(remaining, 1))
            jitter = rng.uniform(0, 0.05)
            kill_after(cli.spawn("deploy-all", "--workers", "2"), finished, jitter)
            story.append(f"{platform}: kill after {finished}/{remaining} modules + {jitter * 1000:.0f} ms")
            context = "; ".join(story)

            assert frontend_problems(frontends) == [], context
            assert cli("status").code == 0, context  # the next command settles the dead run
            with opened(cli) as ctx:
                run = last_deploy_all(ctx)
                if run is not None and (before is None or run.id != before.id):
                    # A kill can land after the run ended, while the process was exiting.
                    assert run.status in ("interrupted", "succeeded"), context
                    interrupted += run.status == "interrupted"
                assert views.status(ctx).active_run is None, context
                assert history_problems(ctx, frontends) == [], context
                recorded = {m.name: m for m in views.modules(ctx)}
                for name in module_names(MODULES):
                    assert len(set(currents(frontends, name))) == 1, (name, currents(frontends, name), context)
            verified = cli("verify")
            assert verified.code == 0, (verified.out, context)
            assert len(recorded) == MODULES, context

        done = cli("deploy-all", "--workers", "2")
        assert done.code == 0, (done.err, "; ".join(story))
        assert cli("verify").code == 0, "; ".join(story)
        with opened(cli) as ctx:
            assert views.status(ctx).fully_upgraded
            for name in module_names(MODULES):
                live = currents(frontends, name)
                assert live[0] is not None and platform in live[0] and len(set(live)) == 1, (name, live)
    assert interrupted >= total // 2, f"only {interrupted} of {total} kills hit a running Deploy All: {story}"
