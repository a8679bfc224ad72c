"""The progress printer: a live bar on a terminal, one line per module otherwise."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from app.cli.progress import ProgressPrinter, format_seconds
from app.engine.events import Event, ItemFinished, ItemSnapshot, LogLine, RunFinished, RunStarted

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def run_events() -> list[Event]:
    items = (
        ItemSnapshot("A", "X", 1, "pending"),
        ItemSnapshot("B", "X", 1, "pending"),
        ItemSnapshot("C", "X", 1, "skipped", "already-deployed"),
    )
    return [
        RunStarted(7, "deploy-all", "me@host", NOW, items),
        ItemFinished(7, "A", "deployed", None, "release v1", 0.5),
        ItemFinished(7, "B", "failed", "disk full", "disk full", 0.25),
        LogLine(7, "warning", "cancel requested", NOW),
        RunFinished(7, "failed", {"deployed": 1, "failed": 1, "skipped": 1}, 2.0),
    ]


def test_plain_output_is_one_line_per_module() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, live=False)
    for event in run_events():
        printer(event)
    assert out.getvalue().splitlines() == [
        "run 7 (deploy-all): 2 module(s) to do, 1 skipped",
        "[1/2] A: deployed (0.50s)",
        "[2/2] B: failed: disk full (0.25s)",
        "warning: cancel requested",
        "run 7 failed in 2s: 1 deployed, 1 failed, 1 skipped",
    ]


def test_terminal_output_redraws_one_line_and_keeps_failures() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out, live=True)
    for event in run_events():
        printer(event)
    text = out.getvalue()
    assert "\r[" in text and "2/2 failed 1" in text
    assert "B: failed: disk full\n" in text
    assert text.endswith("run 7 failed in 2s: 1 deployed, 1 failed, 1 skipped\n")


def test_format_seconds() -> None:
    assert [format_seconds(s) for s in (0.4, 59, 61, 3600 + 120)] == ["0s", "59s", "1m01s", "1h02m"]


class GoneReader(io.StringIO):
    """A stream whose reader went away after ``lines`` writes."""

    def __init__(self, lines: int) -> None:
        super().__init__()
        self.left = lines

    def write(self, text: str) -> int:
        if self.left <= 0:
            raise BrokenPipeError(32, "Broken pipe")
        self.left -= 1
        return super().write(text)


def test_a_stream_whose_reader_left_silences_the_printer_and_nothing_else() -> None:
    out = GoneReader(2)
    printer = ProgressPrinter(out, live=False)
    for event in run_events():
        printer(event)  # never raises
    assert out.getvalue().splitlines() == [
        "run 7 (deploy-all): 2 module(s) to do, 1 skipped",
        "[1/2] A: deployed (0.50s)",
    ]
