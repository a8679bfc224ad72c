"""Retention and prune (rules.md#retention): live, rollback target, staged and N others stay; the rest goes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from app.engine import operations
from app.engine.frontend.registry import opened as real_opened
from app.engine.frontend.target import ReleaseMeta
from app.engine.kinds import prune as prune_command
from app.engine.read import views
from app.engine.retention import doomed
from tests.engine.envkit import Kit, make_kit


def meta(name: str, order: int) -> ReleaseMeta:
    return ReleaseMeta("M", name, None, None, None, order)


def test_doomed_keeps_live_the_one_before_staged_and_the_newest_others() -> None:
    metas = [meta(f"r{i}", i) for i in range(1, 9)]  # r8 was staged after the live r6
    assert [m.release_id for m in doomed(metas, "r6", keep=2)] == ["r1", "r2"]
    assert [m.release_id for m in doomed(metas, "r6", keep=0)] == ["r1", "r2", "r3", "r4"]
    assert [m.release_id for m in doomed(metas, "r6", keep=0, protect={"r2"})] == ["r1", "r3", "r4"]
    assert doomed(metas, None, keep=0) == []  # not live: nothing is known to be old


def releases(frontend: Path, module: str) -> list[str]:
    return sorted(p.name for p in (frontend / module / "releases").iterdir() if not p.name.startswith("."))


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    """Alpha published seven times: each front-end keeps live, the one before and 3 others."""
    k = make_kit(tmp_path, frontends=2)
    for number in range(7):
        k.publish(k.bundle("Alpha", files={"static/n.txt": f"{number}\n"}))
    yield k
    k.ctx.close()


def test_runs_keep_the_live_release_the_rollback_target_and_three_others(kit: Kit) -> None:
    for frontend in kit.frontends:
        assert len(releases(frontend, "Alpha")) == 5


def test_prune_dry_run_lists_what_would_go_and_changes_nothing(kit: Kit) -> None:
    report = operations.prune(kit.ctx, keep=1, dry_run=True)
    assert (report.keep, report.dry_run, len(report.releases)) == (1, True, 4)  # 2 per front-end
    assert report.size > 0 and all(r.size > 0 for r in report.releases)
    assert {r.frontend for r in report.releases} == {"fe1", "fe2"}
    assert all(len(releases(fe, "Alpha")) == 5 for fe in kit.frontends)
    assert operations.prune(kit.ctx, dry_run=True).keep == 3  # a dry run stores nothing


def test_prune_removes_old_releases_and_its_keep_stays_for_later_runs(kit: Kit) -> None:
    live = kit.current("Alpha")
    report = operations.prune(kit.ctx, keep=0)
    assert len(report.releases) == 6
    for frontend in kit.frontends:
        assert len(releases(frontend, "Alpha")) == 2  # live and the one before it
        assert live in releases(frontend, "Alpha")
    assert views.verify(kit.ctx).drift == ()
    back = operations.rollback_modules(kit.ctx, operations.resolve_modules(kit.ctx, ["Alpha"]))
    assert views.run_detail(kit.ctx, back.run_id).items[0].status == "deployed"
    kit.publish(kit.bundle("Alpha", files={"static/n.txt": "eight\n"}))
    for frontend in kit.frontends:  # keep 0 from now on: live and the one before only
        assert len(releases(frontend, "Alpha")) == 2


def test_a_staged_release_survives_pruning(tmp_path: Path) -> None:
    kit = make_kit(tmp_path)
    try:
        for number in range(3):
            kit.publish(kit.bundle("Alpha", files={"static/n.txt": f"{number}\n"}))
        operations.upgrade(kit.ctx, "11.19.0")
        operations.stage_all(kit.ctx)
        [staged] = [name for name in releases(kit.frontends[0], "Alpha") if "11.19.0" in name]
        operations.rollback_modules(kit.ctx, operations.resolve_modules(kit.ctx, ["Alpha"]))
        operations.prune(kit.ctx, keep=0)
        assert staged in releases(kit.frontends[0], "Alpha")
        done = operations.deploy_all(kit.ctx)
        assert kit.current("Alpha") == staged and done.status == "succeeded"
    finally:
        kit.ctx.close()


class _Unsized:
    """A target without ``release_sizes``, like one whose implementation has not caught up."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        if name == "release_sizes":
            raise AttributeError(name)
        return getattr(self._target, name)


def test_prune_skips_a_front_end_that_cannot_measure_its_releases(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    @contextmanager
    def opened(frontends: Any) -> Iterator[list[Any]]:
        with real_opened(frontends) as targets:
            yield [targets[0], _Unsized(targets[1])]

    monkeypatch.setattr(prune_command, "opened", opened)
    report = operations.prune(kit.ctx, keep=0)
    assert {r.frontend for r in report.releases} == {"fe1"}
    assert report.skipped == (f"front-end fe2 ({kit.frontends[1]}) was not pruned: it cannot measure its releases yet",)
    assert len(releases(kit.frontends[1], "Alpha")) == 5
