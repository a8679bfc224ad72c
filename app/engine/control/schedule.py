"""Weekly change windows and dated freezes, and what they allow at an instant.

Pure rules over plain values: the start of every run, the quick status reader and the window all
ask the same questions here. With at least one window, a changing command starts only inside a
window; inside a freeze, never. A window opens at the first instant at or after its local start
time in its zone (``zones.first_instant``) and lasts its length in elapsed time, whatever the
clock does meanwhile; a freeze is a span between two instants.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from app.engine.control.zones import first_instant, zone
from app.engine.errors import BadInputError

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_NAMES = {
    **{day.casefold(): number for number, day in enumerate(WEEKDAYS)},
    **{
        name: number
        for number, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    },
}
_WINDOW_START = re.compile(r"^\s*([A-Za-z]+)\s+(\d{1,2}):(\d{2})\s*$")
MAX_WINDOW_HOURS = 168  # a week: a longer weekly window would overlap itself
_CHAINED_WINDOWS = 64  # windows that follow on without a gap, at most, before they count as always open
_SEARCH_DAYS = 8  # a window opening up to a week before an instant may still hold it
WINDOW_CLOSED = "window-closed"  # why the modules a run did not reach before its window closed are cancelled
FREEZE_STARTED = "freeze-started"  # the same when a freeze began


@dataclass(frozen=True)
class Window:
    """A weekly window: ``weekday`` (Monday 0) at ``start_minute`` after local midnight in ``zone``."""

    id: int
    weekday: int
    start_minute: int
    minutes: int
    zone: str

    @property
    def start_text(self) -> str:
        """The start as ``window add`` takes it: ``Sat 22:00``."""
        hours, minutes = divmod(self.start_minute, 60)
        return f"{WEEKDAYS[self.weekday]} {hours:02d}:{minutes:02d}"

    def describe(self) -> str:
        return f"{self.start_text} for {format_hours(self.minutes)} ({self.zone})"

    def openings(self, around: datetime, after_days: int = _SEARCH_DAYS) -> Iterator[tuple[datetime, datetime]]:
        """Each opening and closing (UTC) from a week before ``around`` to ``after_days`` after it."""
        today = around.astimezone(zone(self.zone)).date()
        for offset in range(-_SEARCH_DAYS, after_days + 1):
            day = today + timedelta(days=offset)
            if day.weekday() == self.weekday:
                opens = self.opening_on(day)
                yield opens, opens + timedelta(minutes=self.minutes)

    def opening_on(self, day: date) -> datetime:
        hours, minutes = divmod(self.start_minute, 60)
        return first_instant(datetime.combine(day, time(hours, minutes)), self.zone)


@dataclass(frozen=True)
class Freeze:
    """No changing command starts from ``starts_at`` until ``ends_at`` (UTC instants)."""

    id: int
    starts_at: datetime
    ends_at: datetime
    zone: str
    reason: str | None = None

    def holds(self, instant: datetime) -> bool:
        return self.starts_at <= instant < self.ends_at

    def describe(self) -> str:
        why = f" ({self.reason})" if self.reason else ""
        return f"freeze {self.id} from {Moment(self.starts_at, self.zone)} until {Moment(self.ends_at, self.zone)}{why}"


@dataclass(frozen=True)
class Moment:
    """An instant and the zone it is told in: people read it there, and in UTC."""

    at: datetime
    zone: str

    @property
    def local(self) -> datetime:
        return self.at.astimezone(zone(self.zone))

    def iso(self) -> str:
        """ISO 8601 with the zone's offset at that instant."""
        return self.local.isoformat(timespec="seconds")

    def __str__(self) -> str:
        local = self.local
        utc = self.at.astimezone(UTC)
        if self.zone == "UTC":
            return f"{utc:%a %Y-%m-%d %H:%M} UTC"
        return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()} ({self.zone}), {utc:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class Schedule:
    """Every window and freeze of an environment."""

    windows: tuple[Window, ...] = ()
    freezes: tuple[Freeze, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.windows and not self.freezes

    def freeze_at(self, instant: datetime) -> Freeze | None:
        """The freeze holding ``instant`` (the one ending last, when several do)."""
        holding = [freeze for freeze in self.freezes if freeze.holds(instant)]
        return max(holding, key=lambda freeze: freeze.ends_at) if holding else None

    def window_at(self, instant: datetime) -> tuple[Window, datetime] | None:
        """The window open at ``instant`` and when it closes (the one closing last, when several are)."""
        best: tuple[Window, datetime] | None = None
        for window in self.windows:
            for opens, closes in window.openings(instant, after_days=0):
                if opens <= instant < closes and (best is None or closes > best[1]):
                    best = (window, closes)
        return best

    def in_window(self, instant: datetime) -> bool:
        """Whether windows let a change start: inside one, or there are none."""
        return not self.windows or self.window_at(instant) is not None

    def next_opening(self, instant: datetime) -> Moment | None:
        """The first window opening after ``instant``, in that window's zone; None without windows."""
        found: Moment | None = None
        for window in self.windows:
            for opens, _closes in window.openings(instant):
                if opens > instant and (found is None or opens < found.at):
                    found = Moment(opens, window.zone)
        return found

    def next_allowed(self, instant: datetime, zone_name: str) -> Moment | None:
        """The first instant at or after ``instant`` when a change may start, told in the zone of the
        window or freeze that decides it (``zone_name`` when it is ``instant`` itself)."""
        at = Moment(instant, zone_name)
        for _step in range(4 * (len(self.freezes) + len(self.windows)) + 4):
            freeze = self.freeze_at(at.at)
            if freeze is not None:
                at = Moment(freeze.ends_at, freeze.zone)
                continue
            if self.windows and self.window_at(at.at) is None:
                opening = self.next_opening(at.at)
                if opening is None:
                    return None
                at = opening
                continue
            return at
        return None

    def windows_close(self, instant: datetime) -> datetime | None:
        """When the windows open at ``instant`` close (windows that follow on without a gap count as
        one); None when none is open, or they follow on for months."""
        closes = instant
        for _step in range(_CHAINED_WINDOWS):
            open_now = self.window_at(closes)
            if open_now is None:
                return closes if closes > instant else None
            closes = open_now[1]
        return None


def parse_window_start(text: str) -> tuple[int, int]:
    """``Sat 22:00`` as (weekday, minutes after midnight); bad input naming what was given."""
    found = _WINDOW_START.match(text)
    weekday = _DAY_NAMES.get(found.group(1).casefold()) if found else None
    if found is None or weekday is None:
        raise BadInputError(f"a window starts at a weekday and a time such as 'Sat 22:00', not {text!r}")
    hours, minutes = int(found.group(2)), int(found.group(3))
    if hours > 23 or minutes > 59:
        raise BadInputError(f"a window's start time is HH:MM from 00:00 to 23:59, not {text!r}")
    return weekday, hours * 60 + minutes


def window_minutes(hours: float) -> int:
    """A window's length from ``--hours``: more than 0, at most a week, to the minute."""
    if not math.isfinite(hours) or hours <= 0 or hours > MAX_WINDOW_HOURS:
        raise BadInputError(f"--hours takes a length from more than 0 to {MAX_WINDOW_HOURS} hours, not {hours:g}")
    minutes = round(hours * 60)
    if minutes < 1:
        raise BadInputError(f"--hours {hours:g} is less than a minute")
    return minutes


def parse_local_time(text: str, zone_name: str, what: str) -> datetime:
    """An ISO 8601 date-time without an offset (``2026-12-24T00:00``), read in the zone, as UTC."""
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInputError(f"{what} is a date-time such as 2026-12-24T00:00, not {text!r}") from None
    if local.tzinfo is not None:
        raise BadInputError(f"{what} {text!r} has an offset; give the local time and its zone with --tz")
    return first_instant(local, zone_name)


def format_hours(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" if not rest else f"{hours} h {rest:02d} min"
