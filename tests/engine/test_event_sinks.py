"""A sink that fails while showing a run (a closed terminal, a window gone) never changes the run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.events import Event, ItemFinished, guarded, ignore_events
from app.engine.read import views
from tests.engine.envkit import Kit, make_kit


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    made = make_kit(tmp_path, frontends=2)
    yield made
    made.ctx.close()


def test_a_run_whose_sink_fails_after_the_first_module_still_deploys_everything(kit: Kit) -> None:
    names = [f"Mod{i}" for i in range(6)]
    kit.publish(*[kit.bundle(name) for name in names])
    operations.upgrade(kit.ctx, "11.19.0")
    shown: list[str] = []

    def sink(event: Event) -> None:
        if isinstance(event, ItemFinished):
            if shown:
                raise BrokenPipeError(32, "Broken pipe")
            shown.append(event.module)

    outcome = operations.deploy_all(kit.ctx, workers=1, on_event=sink)
    assert outcome.status == "succeeded"
    assert len(shown) == 1
    items = views.run_detail(kit.ctx, outcome.run_id).items
    assert {item.status for item in items} == {"deployed"} and len(items) == len(names)


def test_a_second_ctrl_c_raised_inside_a_sink_still_stops_the_caller() -> None:
    def sink(_event: Event) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        guarded(sink)(ItemFinished(1, "A", "deployed", None, None, 0.0))
    assert guarded(ignore_events) is ignore_events
