"""How a run feeds an SSH front-end: one connection and one session for the whole run, in the
run's own process, a few big batches whose round trips and syncs do not grow with the modules,
and the run's statistics that say so (``stats`` in the run document)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.context import EnvironmentContext, Location
from app.engine.frontend.kinds import FrontendKind, feeding_of
from app.engine.lookup import resolve_modules
from app.engine.runs.stats import RunStats
from tests.bundles import write_bundle
from tests.conftest import Cli
from tests.sshd import Farm, SshServer, start_or_skip

MODULES = [f"Feed{index:03d}" for index in range(150)]


@pytest.fixture
def server(ssh_farm: Farm) -> SshServer:
    return start_or_skip(ssh_farm, "web")


@pytest.fixture
def env(server: SshServer, tmp_path: Path) -> Iterator[EnvironmentContext]:
    """150 modules published on 11.18.1 (live there), then prepared for 11.19.0."""
    ctx = operations.init_environment(Location(tmp_path / "env"), frontends=[server.url(server.folder("front"))])
    try:
        bundles = [write_bundle(tmp_path / "bundles", name) for name in MODULES]
        assert operations.publish(ctx, bundles).status == "succeeded"
        operations.upgrade(ctx, "11.19.0")
        yield ctx
    finally:
        ctx.close()


def sessions_started(server: SshServer) -> int:
    return server.log().count("Starting session:")


def test_the_kinds_say_how_they_are_fed_and_a_farm_takes_what_its_slowest_kind_needs() -> None:
    local, ssh = FrontendKind.LOCAL.driver.feeding, FrontendKind.SSH.driver.feeding
    assert local.worker_processes and not ssh.worker_processes
    assert ssh.batch > local.batch and ssh.spread < local.spread
    assert ssh.durable_per_batch and not local.durable_per_batch
    mixed = feeding_of([FrontendKind.LOCAL, FrontendKind.SSH])
    assert (mixed.batch, mixed.spread, mixed.worker_processes) == (ssh.batch, ssh.spread, False)
    assert feeding_of([]) == local


def test_round_trips_and_syncs_do_not_grow_with_the_modules(env: EnvironmentContext, server: SshServer) -> None:
    few = resolve_modules(env, MODULES[:30])
    before = sessions_started(server)
    small = operations.deploy_modules(env, few)
    between = sessions_started(server)
    big = operations.deploy_all(env)  # the 120 others: four times as many modules
    after = sessions_started(server)
    assert (small.status, big.status) == ("succeeded", "succeeded")
    assert (between - before, after - between) == (1, 1), "one session on the server for each whole run"
    costs: list[RunStats] = [outcome.stats for outcome in (small, big) if outcome.stats is not None]
    assert len(costs) == 2 and all(stats.worker_processes == 0 for stats in costs)
    [(name, few_cost)] = costs[0].frontends.items()
    many_cost = costs[1].frontends[name]
    assert (few_cost.connections, few_cost.sessions) == (many_cost.connections, many_cost.sessions) == (1, 1)
    assert costs[1].batches <= costs[0].batches + 1
    assert many_cost.scripts <= few_cost.scripts + 3 and many_cost.syncs <= few_cost.syncs + 2, (few_cost, many_cost)
    assert many_cost.bytes_sent > 3 * few_cost.bytes_sent  # the data did grow


def test_the_run_document_of_deploy_all_has_its_statistics(env: EnvironmentContext, cli: Cli) -> None:
    cli.data_dir = env.data_dir
    result = cli("deploy-all", "--json")
    assert result.code == 0, result.err
    run = result.json()["run"]
    assert {"id", "status", "items"} <= run.keys() and run["status"] == "succeeded"
    stats = run["stats"]
    assert stats["worker_processes"] == 0 and 1 <= stats["batches"] <= 4
    [counts] = stats["frontends"].values()
    assert counts["connections"] == 1 and counts["sessions"] == 1
    assert counts["syncs"] >= 1 and counts["scripts"] >= 3 and counts["bytes_sent"] > 0
    shown = cli("run", str(run["id"]), "--json").json()["run"]
    assert shown["items"] == run["items"] and "stats" not in shown  # known to the process that ran it only
