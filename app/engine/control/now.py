"""Can I change now? What change control allows at this instant, and when it will allow a change.

``status`` shows it (``change_control``), the window's Deploy button says it. Built from plain
values, so that the quick status reader, which reads the SQLite file without the ORM, gives the
same answer as the usual path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.engine.control.schedule import Freeze, Moment, Schedule
from app.engine.control.zones import local_zone_name


@dataclass(frozen=True)
class ChangeControlState:
    """Change control at one instant.

    ``in_window`` is true inside a window, and when there are no windows (nothing to wait for);
    ``next_window`` is the next opening of a window after now; ``active_freeze`` the freeze in force.
    """

    approvals_required: int
    in_window: bool
    next_window: Moment | None
    active_freeze: Freeze | None
    next_allowed: Moment | None  # the first instant a changing command may start; None when it may now
    windows: int
    freezes: int
    next_change: datetime | None = None  # when this answer may change next (a window opens or closes, ...)

    @property
    def changes_at(self) -> datetime | None:
        """The next instant this answer changes: the next allowed start, or when the allowing ends."""
        return self.next_allowed.at if self.next_allowed is not None else self.next_change

    @property
    def changes_allowed(self) -> bool:
        """Whether a changing command may start now as far as windows and freezes go."""
        return self.in_window and self.active_freeze is None

    @property
    def configured(self) -> bool:
        return bool(self.approvals_required or self.windows or self.freezes)

    def to_json(self) -> dict[str, Any]:
        freeze = self.active_freeze
        return {
            "approvals_required": self.approvals_required,
            "in_window": self.in_window,
            "next_window": self.next_window.iso() if self.next_window else None,
            # When the freeze in force ends: the time a change may start again as far as it goes.
            "active_freeze": Moment(freeze.ends_at, freeze.zone).iso() if freeze else None,
            "active_freeze_reason": freeze.reason if freeze else None,
            "changes_allowed": self.changes_allowed,
            "next_allowed": self.next_allowed.iso() if self.next_allowed else None,
        }

    def why_not(self, planned: bool) -> str | None:
        """Why a changing run (``planned``: of a kind that runs from a saved plan) cannot start now
        without more, and when it could; None when nothing stops it."""
        if self.active_freeze is not None:
            return f"Inside {self.active_freeze.describe()}; changes may start again {self._when()}"
        if not self.in_window:
            return f"Outside every change window; the next opens {self.next_window}" + (
                f", and a change may start {self._when()}" if self.next_allowed != self.next_window else ""
            )
        if planned and self.approvals_required:
            return (
                f"{self.approvals_required} approval(s) of a saved plan are required: save a plan in "
                "Change control, have someone else approve it, then run it from there"
            )
        return None

    def _when(self) -> str:
        return f"at {self.next_allowed}" if self.next_allowed is not None else "not in the coming weeks"


def state_of(schedule: Schedule, approvals_required: int, now: datetime) -> ChangeControlState:
    freeze = schedule.freeze_at(now)
    in_window = schedule.in_window(now)
    allowed_now = in_window and freeze is None
    return ChangeControlState(
        approvals_required=approvals_required,
        in_window=in_window,
        next_window=schedule.next_opening(now),
        active_freeze=freeze,
        next_allowed=None if allowed_now else schedule.next_allowed(now, local_zone_name()),
        windows=len(schedule.windows),
        freezes=sum(f.ends_at > now for f in schedule.freezes),
        next_change=_next_change(schedule, now) if allowed_now else None,
    )


def _next_change(schedule: Schedule, now: datetime) -> datetime | None:
    """While a change may start: when that ends (the windows close, or a freeze begins)."""
    ends = [freeze.starts_at for freeze in schedule.freezes if freeze.starts_at > now]
    closes = schedule.windows_close(now) if schedule.windows else None
    if closes is not None:
        ends.append(closes)
    return min(ends) if ends else None
