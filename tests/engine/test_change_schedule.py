"""Change windows and freezes as pure rules: daylight saving in Europe/Lisbon, freezes over windows,
the next allowed start, and the input each one refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.engine.control.now import state_of
from app.engine.control.schedule import (
    FREEZE_STARTED,
    Freeze,
    Schedule,
    Window,
    parse_local_time,
    parse_window_start,
    window_minutes,
)
from app.engine.control.zones import first_instant, local_zone_name, resolved
from app.engine.errors import BadInputError

LISBON = "Europe/Lisbon"
SUNDAY = 6


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_local_time_that_exists_once_is_that_instant() -> None:
    assert first_instant(datetime(2026, 7, 25, 22, 0), LISBON) == utc(2026, 7, 25, 21, 0)  # WEST, UTC+1
    assert first_instant(datetime(2026, 12, 5, 22, 0), LISBON) == utc(2026, 12, 5, 22, 0)  # WET, UTC+0


def test_a_skipped_local_time_opens_when_the_clock_jumps() -> None:
    # Last Sunday of March 2026: at 01:00 UTC Lisbon's clocks go from 01:00 to 02:00.
    assert first_instant(datetime(2026, 3, 29, 1, 30), LISBON) == utc(2026, 3, 29, 1, 0)
    assert first_instant(datetime(2026, 3, 29, 1, 0), LISBON) == utc(2026, 3, 29, 1, 0)


def test_a_repeated_local_time_is_its_first_occurrence() -> None:
    # Last Sunday of October 2026: at 01:00 UTC Lisbon's clocks go back from 02:00 to 01:00.
    assert first_instant(datetime(2026, 10, 25, 1, 30), LISBON) == utc(2026, 10, 25, 0, 30)


def test_a_window_across_the_march_change_opens_at_the_gap_and_lasts_its_elapsed_hours() -> None:
    window = Window(1, SUNDAY, 90, 120, LISBON)  # Sun 01:30 for 2 h
    schedule = Schedule((window,))
    opening = schedule.next_opening(utc(2026, 3, 28, 12, 0))
    assert opening is not None and opening.at == utc(2026, 3, 29, 1, 0)
    assert opening.iso() == "2026-03-29T02:00:00+01:00"
    assert schedule.window_at(utc(2026, 3, 29, 0, 59)) is None
    assert schedule.window_at(utc(2026, 3, 29, 2, 59)) == (window, utc(2026, 3, 29, 3, 0))
    assert schedule.window_at(utc(2026, 3, 29, 3, 0)) is None  # two elapsed hours, not until 03:30 local
    # The next Sunday the hour exists again: 01:30 WEST is 00:30 UTC.
    later = schedule.next_opening(utc(2026, 3, 30, 0, 0))
    assert later is not None and later.at == utc(2026, 4, 5, 0, 30)


def test_a_window_across_the_october_change_opens_at_the_first_occurrence() -> None:
    window = Window(1, SUNDAY, 90, 120, LISBON)
    schedule = Schedule((window,))
    opening = schedule.next_opening(utc(2026, 10, 24, 12, 0))
    assert opening is not None and opening.at == utc(2026, 10, 25, 0, 30)
    assert opening.iso() == "2026-10-25T01:30:00+01:00"
    # Two elapsed hours, though the wall clock shows one: it closes at 02:30 WET (02:30 UTC).
    assert schedule.window_at(utc(2026, 10, 25, 2, 29)) == (window, utc(2026, 10, 25, 2, 30))
    assert schedule.window_at(utc(2026, 10, 25, 2, 30)) is None


def test_a_freeze_that_covers_a_whole_window_moves_the_next_start_to_the_window_after() -> None:
    window = Window(1, 5, 22 * 60, 4 * 60, LISBON)  # Sat 22:00 for 4 h
    freeze = Freeze(1, utc(2026, 12, 19, 0, 0), utc(2026, 12, 21, 0, 0), LISBON, "release freeze")
    schedule = Schedule((window,), (freeze,))
    inside_window = utc(2026, 12, 19, 23, 0)
    assert schedule.in_window(inside_window) and schedule.freeze_at(inside_window) == freeze
    allowed = schedule.next_allowed(utc(2026, 12, 18, 12, 0), "UTC")
    assert allowed is not None and allowed.at == utc(2026, 12, 26, 22, 0)
    assert str(allowed) == "Sat 2026-12-26 22:00 WET (Europe/Lisbon), 2026-12-26 22:00 UTC"
    state = state_of(schedule, 0, inside_window)
    assert not state.changes_allowed
    assert state.to_json()["active_freeze"] == "2026-12-21T00:00:00+00:00"
    assert state.to_json()["next_allowed"] == "2026-12-26T22:00:00+00:00"


def test_a_freeze_ending_inside_a_window_allows_a_start_when_it_ends() -> None:
    window = Window(1, 5, 20 * 60, 6 * 60, "UTC")  # Sat 20:00 for 6 h
    freeze = Freeze(1, utc(2026, 12, 19, 0, 0), utc(2026, 12, 19, 23, 0), "UTC")
    allowed = Schedule((window,), (freeze,)).next_allowed(utc(2026, 12, 19, 21, 0), "UTC")
    assert allowed is not None and allowed.at == utc(2026, 12, 19, 23, 0)


def test_without_windows_a_change_may_start_at_any_time_outside_freezes() -> None:
    now = utc(2026, 6, 1, 3, 0)
    state = state_of(Schedule(), 2, now)
    assert state.in_window and state.changes_allowed and state.next_window is None
    assert state.to_json() == {
        "approvals_required": 2,
        "in_window": True,
        "next_window": None,
        "active_freeze": None,
        "active_freeze_reason": None,
        "changes_allowed": True,
        "next_allowed": None,  # now
    }


def test_windows_that_follow_on_close_as_one() -> None:
    first = Window(1, 5, 20 * 60, 2 * 60, "UTC")  # Sat 20:00-22:00
    second = Window(2, 5, 22 * 60, 3 * 60, "UTC")  # Sat 22:00-01:00
    schedule = Schedule((first, second))
    assert schedule.windows_close(utc(2026, 12, 19, 21, 0)) == utc(2026, 12, 20, 1, 0)
    assert schedule.windows_close(utc(2026, 12, 19, 19, 0)) is None


def test_a_freeze_beginning_during_a_run_is_what_stops_it() -> None:
    freeze = Freeze(1, utc(2026, 12, 19, 0, 0), utc(2026, 12, 20, 0, 0), "UTC")
    assert freeze.holds(utc(2026, 12, 19, 0, 0)) and not freeze.holds(utc(2026, 12, 20, 0, 0))
    assert FREEZE_STARTED == "freeze-started"


@pytest.mark.parametrize("text", ["Xyz 22:00", "Sat 25:00", "Sat 22:61", "Saturday", "22:00", ""])
def test_a_window_start_that_does_not_parse_is_bad_input(text: str) -> None:
    with pytest.raises(BadInputError):
        parse_window_start(text)


def test_window_starts_read_day_names_in_any_case() -> None:
    assert parse_window_start("sat 22:00") == (5, 22 * 60)
    assert parse_window_start("Monday 7:05") == (0, 7 * 60 + 5)


@pytest.mark.parametrize("hours", [0.0, -1.0, 169.0, float("nan"), 0.001])
def test_a_window_length_out_of_range_is_bad_input(hours: float) -> None:
    with pytest.raises(BadInputError):
        window_minutes(hours)


def test_an_unknown_zone_is_bad_input() -> None:
    for name in ("Mars/Base", "../etc/passwd", " Europe/Lisbon", ""):
        with pytest.raises(BadInputError):
            resolved(name)
    assert resolved("Europe/Lisbon") == "Europe/Lisbon"


def test_this_machines_zone_is_an_iana_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    assert local_zone_name() == "America/New_York"
    monkeypatch.setenv("TZ", "not a zone")
    assert resolved(local_zone_name()) == local_zone_name()


def test_freeze_times_are_local_without_an_offset() -> None:
    assert parse_local_time("2026-07-01T00:00", LISBON, "FROM") == utc(2026, 6, 30, 23, 0)
    with pytest.raises(BadInputError, match="offset"):
        parse_local_time("2026-07-01T00:00+02:00", LISBON, "FROM")
    with pytest.raises(BadInputError):
        parse_local_time("next tuesday", LISBON, "FROM")


def test_a_week_long_window_never_closes() -> None:
    always = Schedule((Window(1, 0, 0, 7 * 24 * 60, "UTC"),))
    now = utc(2026, 1, 7, 12, 0)
    assert always.in_window(now) and always.windows_close(now) is None
    assert always.window_at(now + timedelta(days=3)) is not None
