"""The failure budget: once more modules than it allows have failed, no other module starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.read import views
from app.engine.runs.executor import FAILURE_BUDGET
from app.engine.runs.options import FailureBudget, RunOptions
from app.engine.vocabulary import ItemStatus, RunStatus
from tests.cli.test_commands import one_error_line
from tests.conftest import Cli
from tests.engine.envkit import Kit, make_kit

FAILING = [f"A{n:02}" for n in range(8)]  # first in the run's order: independent modules go by name
PASSING = [f"B{n:02}" for n in range(16)]


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    """24 modules ready on 11.19.0; the first 8 cannot deploy: a file stands where their folder goes."""
    k = make_kit(tmp_path)
    for name in FAILING:
        (k.frontends[0] / name).write_text("not a folder\n")
    k.publish(*(k.bundle(name) for name in FAILING + PASSING))
    operations.upgrade(k.ctx, "11.19.0")
    yield k
    k.ctx.close()


def statuses(kit: Kit, run_id: int) -> dict[str, tuple[str, str | None]]:
    return {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, run_id).items}


def test_with_one_worker_and_a_budget_of_two_the_third_failure_is_the_last(kit: Kit) -> None:
    """Ready modules go in batches to a worker; a batch never holds more than could still fail."""
    done = operations.deploy_all(kit.ctx, workers=1, options=RunOptions(max_failures=FailureBudget(2)))

    assert done.status == RunStatus.FAILED
    items = statuses(kit, done.run_id)
    assert [m for m, (status, _r) in items.items() if status == ItemStatus.FAILED] == FAILING[:3]
    cancelled = [m for m, (status, reason) in items.items() if status == ItemStatus.CANCELLED]
    assert cancelled == FAILING[3:] + PASSING
    assert {items[m][1] for m in cancelled} == {FAILURE_BUDGET}

    again = operations.deploy_all(kit.ctx, workers=1)  # the next Deploy All picks them up
    assert {m for m, (status, _r) in statuses(kit, again.run_id).items() if status == ItemStatus.DEPLOYED} == set(
        PASSING
    )


def test_a_percentage_counts_the_modules_worked_on(kit: Kit) -> None:
    # 25% of 24 modules: 6 may fail, the seventh stops the run.
    done = operations.deploy_all(kit.ctx, workers=1, options=RunOptions(max_failures=FailureBudget(25, percent=True)))
    failed = [m for m, (status, _r) in statuses(kit, done.run_id).items() if status == ItemStatus.FAILED]
    assert failed == FAILING[:7]


def test_without_a_budget_every_module_is_tried(kit: Kit) -> None:
    done = operations.deploy_all(kit.ctx, workers=1)
    items = statuses(kit, done.run_id)
    assert sum(status == ItemStatus.FAILED for status, _r in items.values()) == len(FAILING)
    assert sum(status == ItemStatus.DEPLOYED for status, _r in items.values()) == len(PASSING)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--max-failures", "three"], "--max-failures takes a whole number or a percentage"),
        (["--max-failures", "150%"], "at most 100%"),
        (["--max-failures", "-1"], "--max-failures"),
        (["--soak", "-5"], "--soak"),
        (["--soak", "nan"], "--soak"),
        (["--stage", "--soak", "5"], "--stage switches nothing"),
    ],
)
def test_a_bad_option_is_refused_and_no_run_is_stored(
    cli: Cli, tmp_path: Path, options: list[str], fragment: str
) -> None:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    refused = cli("deploy-all", *options, "--json")
    one_error_line(refused, 2, fragment)
    assert refused.json()["exit_code"] == 2
    assert cli("runs", "--json").json()["runs"] == []
