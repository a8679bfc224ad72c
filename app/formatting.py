"""How long something took, in words both front-ends print: no Qt, no engine.

Two styles of the same rounding: ``COMPACT`` for the command line's progress lines ("1m05s"),
``SPACED`` for the window's tables, which also shows tenths and milliseconds under ten seconds
("0.4 s", "65 ms", "1 min 05 s").
"""

from __future__ import annotations

from enum import Enum


class DurationStyle(Enum):
    COMPACT = "compact"
    SPACED = "spaced"


COMPACT = DurationStyle.COMPACT
SPACED = DurationStyle.SPACED
_UNITS = {COMPACT: ("s", "m", "h", "", "m"), SPACED: (" s", " min", " h", " ", " min")}


def format_duration(seconds: float, style: DurationStyle = SPACED) -> str:
    """``seconds`` rounded to what a reader needs: whole seconds, then minutes, then hours."""
    if style is SPACED and seconds < 10:
        if 0 < seconds < 0.1:
            return f"{seconds * 1000:.0f} ms"
        return f"{seconds:.1f} s"
    sec, minute, hour, gap, minute_after_hour = _UNITS[style]
    whole = round(seconds)
    if whole < 60:
        return f"{whole}{sec}"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}{minute}{gap}{secs:02d}{sec}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}{hour}{gap}{minutes:02d}{minute_after_hour}"
