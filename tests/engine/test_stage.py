"""Stage runs (rules.md#stage): write every planned release now, switch later with a plain Deploy All."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.read import views
from app.engine.vocabulary import ItemStatus, RunKind, RunStatus, SkipReason
from tests.engine.envkit import Kit, make_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(tmp_path, frontends=2)
    k.publish(k.bundle("Alpha"), k.bundle("Beta", depends=["Alpha"]), k.bundle("Old", uses=["soap.legacy"]))
    operations.upgrade(k.ctx, "11.19.0")
    yield k
    k.ctx.close()


def test_stage_writes_every_planned_release_everywhere_and_switches_nothing(kit: Kit) -> None:
    before = {name: [kit.current(name, i) for i in (0, 1)] for name in ("Alpha", "Beta")}
    planned = {item.module: item for item in operations.plan_deploy_all(kit.ctx).to_deploy}

    staged = operations.stage_all(kit.ctx)

    assert (staged.kind, staged.status) == (RunKind.STAGE, RunStatus.SUCCEEDED)
    detail = {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, staged.run_id).items}
    assert detail == {
        "Alpha": (ItemStatus.STAGED, None),
        "Beta": (ItemStatus.STAGED, None),
        "Old": (ItemStatus.SKIPPED, SkipReason.COMPILATION_FAILED),
    }
    for name in ("Alpha", "Beta"):
        assert [kit.current(name, i) for i in (0, 1)] == before[name]
        artifact = planned[name].artifact_sha256
        assert artifact is not None
        release = f"v1-11.19.0-{artifact[:12]}"
        for frontend in kit.frontends:
            assert (frontend / name / "releases" / release / ".release.json").is_file()
    assert views.verify(kit.ctx).drift == ()
    state = views.status(kit.ctx)
    assert (state.staged, state.ready) == (2, 2)
    assert state.to_json()["counts"]["staged"] == 2


def test_deploy_all_after_a_stage_only_switches(kit: Kit) -> None:
    operations.stage_all(kit.ctx)
    release_of = {}
    inodes = {}
    for name in ("Alpha", "Beta"):
        [release] = [p for p in (kit.frontends[0] / name / "releases").iterdir() if "11.19.0" in p.name]
        release_of[name] = release.name
        inodes[name] = (release / "src" / "main.py").stat().st_ino

    done = operations.deploy_all(kit.ctx)

    assert done.status == RunStatus.SUCCEEDED  # Old, which does not compile on 11.19.0, is skipped
    for name in ("Alpha", "Beta"):
        assert [kit.current(name, i) for i in (0, 1)] == [release_of[name]] * 2
        # The staged files themselves went live: nothing was written again.
        main = kit.frontends[0] / name / "releases" / release_of[name] / "src" / "main.py"
        assert main.stat().st_ino == inodes[name]
    assert views.status(kit.ctx).staged == 0
    assert views.verify(kit.ctx).drift == ()


def test_a_staged_release_gone_from_a_front_end_is_written_again(kit: Kit) -> None:
    operations.stage_all(kit.ctx)
    [release] = [p.name for p in (kit.frontends[1] / "Alpha" / "releases").iterdir() if "11.19.0" in p.name]
    shutil.rmtree(kit.frontends[1] / "Alpha" / "releases" / release)

    done = operations.deploy_all(kit.ctx)

    assert done.status == RunStatus.SUCCEEDED
    assert [kit.current("Alpha", i) for i in (0, 1)] == [release, release]
    detail = {i.module: i for i in views.run_detail(kit.ctx, done.run_id).items}
    assert detail["Alpha"].frontends == {"fe1": "live", "fe2": "live"}
    assert views.verify(kit.ctx).drift == ()
