"""How values read on screen: module states, statuses, times and durations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Protocol

from app.engine.vocabulary import ItemStatus, ModuleState, RunKind, RunStatus, SkipReason
from app.formatting import SPACED, format_duration

STATE_LABELS: dict[str, str] = {
    ModuleState.READY: "Ready to deploy",
    ModuleState.DEPLOYED: "Deployed",
    ModuleState.COMPILATION_FAILED: "Compilation failed",
    ModuleState.NOT_PREPARED: "Not prepared",
}

SKIP_REASON_LABELS: dict[str, str] = {
    SkipReason.COMPILATION_FAILED: "their compilation failed",
    SkipReason.ALREADY_DEPLOYED: "already deployed",
    SkipReason.NOT_PREPARED: "not prepared for this platform version",
}

# Why Deploy All leaves one module as it is.
SKIP_REASON_ONE: dict[str, str] = {
    SkipReason.COMPILATION_FAILED: "its compilation failed",
    SkipReason.ALREADY_DEPLOYED: "already live on every enabled front-end",
    SkipReason.NOT_PREPARED: "not prepared for this platform version",
}

# Not an item status: a rollback's module switched back (the record says deployed, as `run` does).
ROLLED_BACK = "rolled-back"

# A module an active run holds, by where it is in that run ({run}: the run's number).
HELD_LABELS: dict[str, str] = {
    ROLLED_BACK: "Rolled back to v{version} · held by run {run}",
    ItemStatus.PENDING: "Waiting in run {run}",
    ItemStatus.DEPLOYING: "Deploying in run {run}",
    ItemStatus.DEPLOYED: "Deployed · held by run {run}",
    ItemStatus.PREPARED: "Prepared · held by run {run}",
    ItemStatus.FAILED: "Failed in run {run}",
    ItemStatus.BLOCKED: "Blocked in run {run}",
    ItemStatus.CANCELLED: "Cancelled in run {run}",
}
HELD_TIP = "Publish, Apply configurations and Delete wait until run {run} ends: a run holds its modules until its end"
# Items that took no time of their own: a duration would only say "0.0 s".
UNTIMED = frozenset({ItemStatus.PENDING, ItemStatus.BLOCKED, ItemStatus.SKIPPED, ItemStatus.CANCELLED})


def state_label(
    state: str, locked_by_run: int | None = None, run_status: str | None = None, version: int | None = None
) -> str:
    """A module's state; held by a run, where it is in that run (when the window knows)."""
    if locked_by_run is not None:
        label = HELD_LABELS.get(run_status or "", "Held by run {run}")
        return label.format(run=locked_by_run, version=version if version is not None else "?")
    return STATE_LABELS.get(state, state)


def item_status_text(kind: str, status: str, version: int | None) -> str:
    """An item's status in a run's table: a rollback's switched-back module says to which version."""
    if kind == RunKind.ROLLBACK and status == ItemStatus.DEPLOYED:
        return f"Rolled back to v{version}" if version is not None else "Rolled back"
    return status_label(status)


def compile_failures_only(kind: str, status: str, counts: Mapping[str, int]) -> bool:
    """An upgrade whose only failures are modules that did not compile: expected, not a disaster."""
    return (
        RunKind(kind).traits.prepares
        and status == RunStatus.FAILED
        and counts.get(ItemStatus.FAILED, 0) > 0
        and not counts.get(ItemStatus.BLOCKED, 0)
        and not counts.get(ItemStatus.CANCELLED, 0)
    )


def run_outcome(
    kind: str, status: str, counts: Mapping[str, int], *, brief: bool = False, compile_failed: int = 0
) -> str:
    """How a run ended, in words: "Succeeded", "24 prepared, 6 did not compile" for such an upgrade,
    "1 did not compile" for a publish whose module did not compile, "24 staged" for a stage run.

    ``brief`` leaves out what a table already shows in its own count columns; ``compile_failed``
    is how many of the failed items failed to compile (the counts by status do not say).
    """
    if compile_failures_only(kind, status, counts):
        failed = f"{count_text(counts[ItemStatus.FAILED])} did not compile"
        return failed if brief else f"{count_text(counts.get(ItemStatus.PREPARED, 0))} prepared, {failed}"
    traits = RunKind(kind).traits
    # A run that compiles and deploys: a failed item of its may be a module that did not compile.
    if traits.compiles and traits.switches and status == RunStatus.FAILED and compile_failed:
        parts = [f"{count_text(compile_failed)} did not compile"]
        other = counts.get(ItemStatus.FAILED, 0) - compile_failed
        if other:
            parts.append(f"{count_text(other)} failed")
        if counts.get(ItemStatus.BLOCKED):
            parts.append(f"{count_text(counts[ItemStatus.BLOCKED])} blocked")
        return ", ".join(parts) if brief else f"Failed: {', '.join(parts)}"
    if traits.success == ItemStatus.STAGED and not brief and counts.get(ItemStatus.STAGED):
        staged = count_text(counts[ItemStatus.STAGED])
        return f"{status_label(status)}: {staged} staged on every enabled front-end, nothing switched"
    return status_label(status)


def outcome_icon_name(kind: str, status: str, counts: Mapping[str, int]) -> str:
    return ItemStatus.BLOCKED if compile_failures_only(kind, status, counts) else status


def item_hint(kind: str, status: str, reason: str | None) -> str:
    """What the operator can do about an item, in one sentence."""
    if status == ItemStatus.FAILED and kind in (RunKind.UPGRADE, RunKind.PUBLISH):
        return "Fix the module and publish a new version; Deploy All skips it until it compiles."
    if status == ItemStatus.FAILED:
        return "Remove the cause, then Deploy again: only the modules that did not deploy are deployed."
    if status == ItemStatus.BLOCKED:
        return "Not attempted: its producer failed first. Deploy again deploys it once the producer deploys."
    if status == ItemStatus.CANCELLED:
        return "Not attempted: the run was cancelled. Deploy again, or a later Deploy All, deploys it."
    if status == ItemStatus.SKIPPED and reason == SkipReason.COMPILATION_FAILED:
        return "Its compilation for this platform failed: publish a fixed version to deploy it."
    if status == ItemStatus.SKIPPED and reason == SkipReason.NOT_PREPARED:
        return "Not prepared for this platform version: an upgrade prepares it."
    return ""


def status_label(status: str) -> str:
    return status.capitalize() if status else ""


def local_time(value: datetime | None) -> datetime | None:
    """An aware local datetime; naive values are taken as UTC, as the engine stores them."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone()


def timestamp(value: datetime | None) -> str:
    """Date and time for tables of runs."""
    local = local_time(value)
    return local.strftime("%Y-%m-%d %H:%M:%S") if local else ""


def minute(value: datetime | None, now: datetime | None = None) -> str:
    """Short, where a table is short of room: "12-01 19:36" this year, "2025-12-01" before it.

    The full timestamp goes in a tooltip.
    """
    local = local_time(value)
    if local is None:
        return ""
    this_year = (now or datetime.now().astimezone()).year
    return local.strftime("%m-%d %H:%M") if local.year == this_year else local.strftime("%Y-%m-%d")


def clock(value: datetime | None) -> str:
    """Time of day, for events within one run."""
    local = local_time(value)
    return local.strftime("%H:%M:%S") if local else ""


class RunIdentity(Protocol):
    """What names a run to the operator: a run followed by the window (``RunProgress``)."""

    @property
    def run_id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def started_by(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...


def describe_run(run: RunIdentity, *, starts_sentence: bool = False) -> str:
    """A run as a refusal names it, as the command line does: which run, who started it and when."""
    word = "Run" if starts_sentence else "run"
    return f"{word} {run.run_id} ({run.kind}) started by {run.started_by} at {timestamp(run.started_at)}"


def duration(seconds: float | None) -> str:
    """The window's style of the shared duration format; empty when there is no duration."""
    return "" if seconds is None else format_duration(seconds, SPACED)


def count_text(count: int) -> str:
    """A count as the window writes every count, in text and tables alike: 2,028."""
    return f"{count:,}"


def counts_summary(counts: Mapping[str, int]) -> str:
    parts = [f"{count_text(n)} {status}" for status, n in sorted(counts.items()) if n]
    return ", ".join(parts) or "nothing to do"


def plural(count: int, word: str) -> str:
    return f"{count_text(count)} {word}" if count == 1 else f"{count_text(count)} {word}s"


def utcnow() -> datetime:
    return datetime.now(UTC)
