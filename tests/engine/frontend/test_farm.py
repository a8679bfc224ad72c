"""All front-ends or none (rules.md#all-or-none), and the record of what each front-end holds after a batch."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path
from typing import Any

import pytest

from app.engine import operations
from app.engine.artifacts import canonical_zip
from app.engine.frontend import farm
from app.engine.frontend.content import ReleaseRequest, release_files
from app.engine.frontend.local import module_folder
from app.engine.frontend.local.target import LocalTarget
from app.engine.frontend.target import FrontendError
from app.engine.read import views
from tests.engine.envkit import make_kit
from tests.engine.frontend.kit import read_current

ARTIFACT = canonical_zip({"src/app.py": b"X = 1\n"})
SHA = hashlib.sha256(ARTIFACT).hexdigest()


def targets(tmp_path: Path) -> list[LocalTarget]:
    found = []
    for name in ("fe1", "fe2", "fe3"):
        (tmp_path / name).mkdir()
        found.append(LocalTarget(name, tmp_path / name))
    return found


def release(name: str, version: int = 1) -> Any:
    return release_files(ReleaseRequest(name, version, "11.19.0", SHA, {}), ARTIFACT)


def test_a_release_that_fails_to_stage_anywhere_goes_live_nowhere(tmp_path: Path) -> None:
    fes = targets(tmp_path)
    (tmp_path / "fe2" / "Bad").write_text("a file where the module folder goes")
    good, bad = farm.deploy_releases(fes, [release("Good"), release("Bad")])
    assert good.release_id is not None and good.frontends == {"fe1": "live", "fe2": "live", "fe3": "live"}
    assert bad.release_id is None and isinstance(bad.error, FrontendError) and "fe2" in str(bad.error)
    assert bad.frontends == {"fe1": "discarded", "fe2": "failed", "fe3": "discarded"}
    assert [read_current(tmp_path / fe, "Bad") for fe in ("fe1", "fe3")] == [None, None]
    assert not (tmp_path / "fe1" / "Bad").exists()  # nothing left behind where it was staged


def test_a_failed_switch_switches_the_others_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fes = targets(tmp_path)
    [first] = farm.deploy_releases(fes, [release("Orders", 1)])
    real_replace = module_folder.replace_file

    def refuse_on_fe3(temp: Path, target: Path) -> None:
        if target.name == "CURRENT" and (tmp_path / "fe3") in target.parents:
            raise OSError(errno.EIO, "Input/output error", str(target))
        real_replace(temp, target)

    monkeypatch.setattr(module_folder, "replace_file", refuse_on_fe3)
    [second] = farm.deploy_releases(fes, [release("Orders", 2)])
    assert second.release_id is None and "Input/output error" in str(second.error)
    assert second.frontends == {"fe1": "switched back", "fe2": "switched back", "fe3": "failed"}
    assert [read_current(tmp_path / fe, "Orders") for fe in ("fe1", "fe2", "fe3")] == [first.release_id] * 3


def test_a_run_records_each_front_end_of_each_item_and_skips_disabled_ones(tmp_path: Path) -> None:
    kit = make_kit(tmp_path, frontends=2)
    try:
        operations.publish(kit.ctx, [kit.bundle("Alpha")])
        operations.upgrade(kit.ctx, "11.19.0")
        from app.engine import farm_admin as frontends

        frontends.set_enabled(kit.ctx, "fe2", False)
        run = operations.deploy_all(kit.ctx)
        [item] = views.run_detail(kit.ctx, run.run_id).items
        assert item.status == "deployed" and item.frontends == {"fe1": "live", "fe2": "disabled"}
        assert "not on disabled fe2" in (item.message or "")
        assert "11.18.1" in (kit.current("Alpha", 1) or ""), "the disabled front-end was left as it was"
        assert views.verify(kit.ctx).drift == () and views.verify(kit.ctx).disabled == ("fe2",)

        frontends.set_enabled(kit.ctx, "fe2", True)
        again = operations.deploy_all(kit.ctx)
        [item] = views.run_detail(kit.ctx, again.run_id).items
        assert item.status == "deployed", "enabled again, it is brought up to date"
        assert kit.current("Alpha", 1) == kit.current("Alpha", 0)
        assert views.verify(kit.ctx).drift == ()
    finally:
        kit.ctx.close()


def test_a_flush_that_fails_after_the_switch_fails_the_releases_naming_the_front_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A switch that may not survive a crash of one front-end is not reported live: the run must
    not record it as deployed; the targets that flushed and the releases that failed earlier stay."""
    fes = targets(tmp_path)
    rollouts = farm.deploy_releases(fes, [release("Orders"), release("Billing")])
    failed_before = farm.Rollout(None, FrontendError("front-end fe1: earlier"), {"fe1": farm.FAILED})

    def refuse(self: LocalTarget) -> None:
        if self.name == "fe2":
            raise FrontendError("front-end fe2: no progress for 8 s")

    monkeypatch.setattr(LocalTarget, "flush", refuse)
    orders, billing, earlier = farm.made_durable(fes, [*rollouts, failed_before])
    for rollout in (orders, billing):
        assert rollout.release_id is None and rollout.error is not None
        assert (
            "fe2: no progress for 8 s" in rollout.error.message and "could not be made durable" in rollout.error.message
        )
        assert rollout.frontends == {"fe1": "live", "fe2": "failed", "fe3": "live"}
    assert earlier is failed_before
    monkeypatch.undo()
    assert farm.made_durable(fes, rollouts) == rollouts
