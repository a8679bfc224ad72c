"""Progress on stderr: a live one-line bar on a terminal, one line per module otherwise.

Progress is a courtesy: once stderr cannot be written (its reader went away), the printer stays
quiet and the run goes on exactly as it would have (``streams``).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from app.cli.streams import write
from app.engine.events import Event, FrontendPhase, ItemFinished, LogLine, RolloutPhase, RunFinished, RunStarted
from app.formatting import COMPACT, format_duration

BAR_WIDTH = 24
REDRAW_INTERVAL = 0.1


def format_seconds(seconds: float) -> str:
    """The command line's style of the shared duration format: "59s", "1m01s", "1h02m"."""
    return format_duration(seconds, COMPACT)


class ProgressPrinter:
    """An ``EventSink`` for the unattended front-end."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None) -> None:
        self._out = stream or sys.stderr
        self._live = _is_terminal(self._out) if live is None else live
        self._quiet = False  # set once the stream could not be written: no one reads it any more
        self._total = 0
        self._done = 0
        self._seen: set[str] = set()  # a rolling run finishes each module twice: staged, then switched
        self._failed = 0
        self._kind = "run"
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._start(event)
        elif isinstance(event, ItemFinished):
            self._item(event)
        elif isinstance(event, LogLine) and event.level != "error":
            self._line(f"{event.level}: {event.text}")
        elif isinstance(event, RunFinished):
            self._finish(event)
        elif isinstance(event, FrontendPhase):
            self._line(f"front-end {event.frontend}: {phase_line(event)}")

    def _start(self, event: RunStarted) -> None:
        self._kind = event.kind
        self._total = sum(1 for item in event.items if item.status == "pending")
        skipped = len(event.items) - self._total
        self._started = time.monotonic()
        note = f", {skipped} skipped" if skipped else ""
        self._line(f"run {event.run_id} ({event.kind}): {self._total} module(s) to do{note}")

    def _item(self, event: ItemFinished) -> None:
        self._seen.add(event.module)
        self._done = len(self._seen)
        if event.status in ("failed", "blocked"):
            self._failed += 1
        if self._live:
            if event.status in ("failed", "blocked"):
                self._line(f"{event.module}: {event.status}: {event.reason or event.message}")
            self._draw()
            return
        detail = f": {event.reason}" if event.reason and event.status != "deployed" else ""
        self._write(f"[{self._done}/{self._total}] {event.module}: {event.status}{detail} ({event.seconds:.2f}s)\n")

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < REDRAW_INTERVAL:
            return
        self._last_draw = now
        total = max(self._total, 1)
        filled = int(BAR_WIDTH * min(self._done, total) / total)
        elapsed = now - self._started
        eta = ""
        if 0 < self._done < self._total:
            eta = f" ETA {format_seconds(elapsed / self._done * (self._total - self._done))}"
        text = (
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self._done}/{self._total}"
            f" failed {self._failed} elapsed {format_seconds(elapsed)}{eta}\x1b[K"
        )
        self._write(text)
        self._drawn = True

    def _line(self, text: str) -> None:
        if self._drawn:
            text = "\r\x1b[K" + text
            self._drawn = False
        self._write(text + "\n")

    def _write(self, text: str) -> None:
        if not self._quiet:
            self._quiet = not write(self._out, text)

    def _finish(self, event: RunFinished) -> None:
        if self._live:
            self._draw(force=True)
            self._write("\n")
            self._drawn = False
        counts = ", ".join(f"{n} {status}" for status, n in sorted(event.counts.items()) if n)
        self._line(f"run {event.run_id} {event.status} in {format_seconds(event.seconds)}: {counts or 'nothing to do'}")


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):  # closed already
        return False


def phase_line(event: FrontendPhase) -> str:
    """One front-end's step in a rolling switch, a soak or a switch back, as a line of progress."""
    if event.phase == RolloutPhase.SOAKING and event.seconds is not None:
        return f"soaking {event.seconds:g} s: the checks of every front-end switched so far must keep passing"
    text = {RolloutPhase.HEALTH: "switched; checking its health"}.get(event.phase, event.phase.value)
    return f"{text}: {event.problem}" if event.problem else text
