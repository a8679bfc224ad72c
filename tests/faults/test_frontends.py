"""Several front-ends: every module goes to all of them, a failure on one fails it on all, drift anywhere shows."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.engine import operations
from app.engine.events import Event, ItemFinished
from app.engine.read import views
from tests.engine.envkit import Kit, make_kit
from tests.faults.scenery import currents, frontend_problems, history_problems


@pytest.fixture
def kit(tmp_path: Path, database_url: str | None) -> Iterator[Kit]:
    k = make_kit(tmp_path, frontends=3, database_url=database_url)
    yield k
    k.ctx.close()


def items_of(kit: Kit, run_id: int) -> dict[str, tuple[str, str | None]]:
    return {i.module: (i.status, i.reason) for i in views.run_detail(kit.ctx, run_id).items}


def prepared(kit: Kit, names: list[str]) -> None:
    kit.publish(*(kit.bundle(name, config={"Mode": "a"}) for name in names))
    operations.upgrade(kit.ctx, "11.19.0")


def test_three_frontends_each_receive_every_module(kit: Kit) -> None:
    names = [f"Mod{i}" for i in range(8)]
    prepared(kit, names)
    assert operations.deploy_all(kit.ctx, workers=3).status == "succeeded"
    for name in names:
        live = currents(kit.frontends, name)
        assert len(set(live)) == 1 and "11.19.0" in (live[0] or ""), (name, live)
        configs = {(fe / name / "config.json").read_text() for fe in kit.frontends}
        assert len(configs) == 1
    assert frontend_problems(kit.frontends) == []
    assert views.verify(kit.ctx).drift == ()


def test_a_foreign_file_on_one_frontend_fails_the_module_on_all(kit: Kit) -> None:
    prepared(kit, ["Clean", "Cluttered"])
    before = currents(kit.frontends, "Cluttered")
    intruder = kit.frontends[2] / "Cluttered" / "notes.txt"
    intruder.write_text("someone else's")
    run = operations.deploy_all(kit.ctx)
    items = items_of(kit, run.run_id)
    assert items["Clean"] == ("deployed", None)
    assert items["Cluttered"][0] == "failed" and str(intruder) in (items["Cluttered"][1] or "")
    assert currents(kit.frontends, "Cluttered") == before, "no front-end moved on alone"
    assert frontend_problems(kit.frontends) == [] and history_problems(kit.ctx, kit.frontends) == []
    assert intruder.read_text() == "someone else's"


def test_a_switch_failing_on_the_last_frontend_puts_the_others_back(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    """The release is whole everywhere, then CURRENT cannot be replaced on front-end 3."""
    prepared(kit, ["Steady", "Torn"])
    before = currents(kit.frontends, "Torn")
    configs = [(fe / "Torn" / "config.json").read_bytes() for fe in kit.frontends]
    refused = str(kit.frontends[2] / "Torn" / "CURRENT")
    real_replace, real_rename = os.replace, os.rename

    def guard(real: Callable[..., None]) -> Callable[..., None]:
        def move(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
            if os.fspath(dst) == refused:
                raise OSError(errno.EIO, "Input/output error", os.fspath(dst))
            real(src, dst, *args, **kwargs)

        return move

    monkeypatch.setattr(os, "replace", guard(real_replace))
    monkeypatch.setattr(os, "rename", guard(real_rename))
    run = operations.deploy_all(kit.ctx, workers=1)
    monkeypatch.undo()

    items = items_of(kit, run.run_id)
    assert items["Steady"] == ("deployed", None)
    assert items["Torn"][0] == "failed" and refused in (items["Torn"][1] or ""), items["Torn"]
    assert currents(kit.frontends, "Torn") == before, "no mixed versions stay live"
    assert [(fe / "Torn" / "config.json").read_bytes() for fe in kit.frontends] == configs
    assert frontend_problems(kit.frontends) == [] and history_problems(kit.ctx, kit.frontends) == []
    again = operations.deploy_all(kit.ctx)
    assert items_of(kit, again.run_id)["Torn"] == ("deployed", None)
    assert views.verify(kit.ctx).drift == ()


def test_verify_reports_drift_on_any_frontend(kit: Kit) -> None:
    kit.publish(kit.bundle("Alpha"), kit.bundle("Beta"), kit.bundle("Gamma"))
    assert views.verify(kit.ctx).drift == ()
    release = kit.current("Alpha", 1)
    (kit.frontends[1] / "Alpha" / "releases" / str(release) / "static" / "index.html").write_text("edited")
    (kit.frontends[2] / "Beta" / "CURRENT").unlink()
    drift = {(Path(d.frontend).name, d.module, d.problem) for d in views.verify(kit.ctx).drift}
    assert drift == {
        ("fe2", "Alpha", "file static/index.html changed"),
        ("fe3", "Beta", "CURRENT missing"),
    }


def test_a_frontend_that_disappears_mid_run_fails_its_modules_and_the_run_recovers(kit: Kit) -> None:
    names = [f"Mod{i}" for i in range(8)]
    prepared(kit, names)
    share, away = kit.frontends[1], kit.root / "unmounted"

    def unmount_after_the_first(event: Event) -> None:
        if isinstance(event, ItemFinished) and share.exists():
            share.rename(away)  # like a network share going away under the run

    run = operations.deploy_all(kit.ctx, workers=1, on_event=unmount_after_the_first)
    items = items_of(kit, run.run_id)
    failed = sorted(name for name, (status, _) in items.items() if status == "failed")
    deployed = sorted(name for name, (status, _) in items.items() if status == "deployed")
    assert run.status == "failed" and failed and sorted(failed + deployed) == names, items
    assert all(str(share) in (items[name][1] or "") for name in failed), items
    assert views.status(kit.ctx).active_run is None
    survivors = [kit.frontends[0], away, kit.frontends[2]]
    assert frontend_problems(survivors) == []
    for name in names:
        live = set(currents(survivors, name))
        assert len(live) == 1, f"{name} is live in two versions: {live}"
        assert ("11.19.0" in str(live)) == (name in deployed)

    away.rename(share)  # the share comes back
    again = operations.deploy_all(kit.ctx)
    assert again.status == "succeeded"
    assert sorted(n for n, (s, _) in items_of(kit, again.run_id).items() if s == "deployed") == failed
    assert views.verify(kit.ctx).drift == ()
