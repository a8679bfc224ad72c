"""Folding a run's events off the GUI thread: what the GUI thread gets, and that it means the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.engine.events import (
    Event,
    FrontendSwitched,
    ItemFinished,
    ItemSnapshot,
    ItemStarted,
    LogLine,
    RunFinished,
    RunStarted,
)
from app.gui.run_folding import RowChanges, RunFolder
from app.gui.run_progress import RunProgress

AT = datetime(2026, 1, 1, tzinfo=UTC)
NAMES = ("Common", "Orders", "Invoices")


def started(run_id: int = 7) -> RunStarted:
    items = tuple(ItemSnapshot(name, "Sales", 1, "pending") for name in NAMES)
    return RunStarted(run_id, "deploy-all", "me", AT, items)


def test_a_module_that_started_and_finished_between_two_batches_is_one_change() -> None:
    folder = RunFolder()
    folder.fold(started())
    folder.fold(ItemStarted(7, "orders", AT + timedelta(seconds=1)))  # names match in any case
    folder.fold(ItemFinished(7, "Orders", "deployed", None, None, 0.5))
    folder.fold(ItemStarted(7, "Common", AT + timedelta(seconds=2)))
    [batch] = folder.take()
    progress, changes = batch.steps
    assert isinstance(progress, RunProgress) and progress.run_id == 7 and progress.total == 3
    assert isinstance(changes, RowChanges)
    assert {n: (s.status, s.started_at) for n, s in changes.states.items()} == {
        1: ("deployed", AT + timedelta(seconds=1)),
        0: ("deploying", AT + timedelta(seconds=2)),
    }
    assert [line.split("  ", 1)[1] for line in changes.lines] == ["Orders: deployed (0.5 s)"]
    assert folder.take() == [], "handed over once"


def test_other_events_keep_their_place_between_row_changes() -> None:
    folder = RunFolder()
    folder.fold(started())
    folder.take()
    wave = FrontendSwitched(7, "web1", 2, True, None)
    for event in (
        ItemFinished(7, "Common", "deployed", None, None, 0.1),
        LogLine(7, "warning", "slow disk", AT),
        LogLine(7, "error", "Orders failed", AT),  # the item's own line says it
        wave,
        ItemFinished(7, "Orders", "failed", "disk full", None, 0.1),
        RunFinished(7, "failed"),
        ItemFinished(7, "Invoices", "deployed", None, None, 0.1),  # after the end: passed on, and ignored there
    ):
        folder.fold(event)
    [batch] = folder.take()
    kinds = [type(step).__name__ for step in batch.steps]
    assert kinds == ["RowChanges", "FrontendSwitched", "RowChanges", "RunFinished", "ItemFinished"]
    first = batch.steps[0]
    assert isinstance(first, RowChanges)
    assert [line.split("  ", 1)[1] for line in first.lines] == ["Common: deployed (0.1 s)", "warning: slow disk"]


def test_folded_batches_leave_a_run_as_its_events_one_by_one_do() -> None:
    events: list[Event] = [
        ItemStarted(7, "Common", AT),
        ItemFinished(7, "Common", "deployed", None, None, 1.0),
        ItemStarted(7, "Orders", AT),
        LogLine(7, "info", "half way", AT),
        ItemFinished(7, "Orders", "failed", "disk full", "no space left", 2.0),
        ItemFinished(7, "Invoices", "blocked", "producer Orders failed", None, 0.0),
        RunFinished(7, "failed"),
    ]
    one_by_one = RunProgress.from_started(started())
    for event in events:
        one_by_one.apply_event(event)

    folder = RunFolder()
    folder.fold(started())
    [begun] = folder.take()
    folded = begun.steps[0]
    assert isinstance(folded, RunProgress)
    for event in events:
        folder.fold(event)
    for batch in folder.take():
        for step in batch.steps:
            if isinstance(step, RowChanges):
                folded.apply_states(step.states)
                folded.note_lines(step.lines)
            elif not isinstance(step, RunProgress):
                folded.apply_event(step)

    def shown(progress: RunProgress) -> list[tuple[object, ...]]:
        return [(r.status, r.reason, r.message, r.started_at, r.seconds) for r in progress.rows]

    assert shown(folded) == shown(one_by_one)
    assert folded.counts == one_by_one.counts and folded.status == one_by_one.status == "failed"
    assert [line.split("  ", 1)[1] for line in folded.log] == [line.split("  ", 1)[1] for line in one_by_one.log]
    assert all(row.finished_at is not None for row in folded.rows)


def test_later_events_of_a_run_followed_elsewhere_are_folded_by_its_rows() -> None:
    progress = RunProgress.from_started(started())
    folder = RunFolder({7: progress})
    folder.fold(ItemFinished(7, "Invoices", "deployed", None, None, 0.1))
    [batch] = folder.take()
    [changes] = batch.steps
    assert isinstance(changes, RowChanges) and list(changes.states) == [2]
