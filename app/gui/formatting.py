"""How values read on screen: module states, statuses, times and durations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from app.formatting import SPACED, format_duration

STATE_LABELS = {
    "ready": "Ready to deploy",
    "deployed": "Deployed",
    "compilation-failed": "Compilation failed",
    "not-prepared": "Not prepared",
}

SKIP_REASON_LABELS = {
    "compilation-failed": "their compilation failed",
    "already-deployed": "already deployed",
    "not-prepared": "not prepared for this platform version",
}


def state_label(state: str, locked_by_run: int | None = None) -> str:
    if locked_by_run is not None:
        return f"Being deployed by run {locked_by_run}"
    return STATE_LABELS.get(state, state)


def status_label(status: str) -> str:
    return status.capitalize() if status else ""


def local_time(value: datetime | None) -> datetime | None:
    """An aware local datetime; naive values are taken as UTC, as the engine stores them."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone()


def timestamp(value: datetime | None) -> str:
    """Date and time for tables of runs."""
    local = local_time(value)
    return local.strftime("%Y-%m-%d %H:%M:%S") if local else ""


def clock(value: datetime | None) -> str:
    """Time of day, for events within one run."""
    local = local_time(value)
    return local.strftime("%H:%M:%S") if local else ""


def duration(seconds: float | None) -> str:
    """The window's style of the shared duration format; empty when there is no duration."""
    return "" if seconds is None else format_duration(seconds, SPACED)


def counts_summary(counts: Mapping[str, int]) -> str:
    parts = [f"{n} {status}" for status, n in sorted(counts.items()) if n]
    return ", ".join(parts) or "nothing to do"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
