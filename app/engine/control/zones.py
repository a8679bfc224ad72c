"""IANA time zones: checking a name, finding this machine's, and reading a local time in a zone.

The standard library's ``zoneinfo`` reads the system's zone files, or the ``tzdata`` package where
there are none. A local time that the clock skips or repeats (a daylight saving change) is read
as the first instant at or after it: its first occurrence when the hour repeats, the end of the
gap when the hour is skipped.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.engine.errors import BadInputError

DEFAULT_ZONE = "UTC"  # when this machine names no zone at all


def zone(name: str) -> ZoneInfo:
    """The zone called ``name``; bad input when there is no such IANA zone."""
    found = _zone_or_none(name)
    if found is None:
        raise BadInputError(f"unknown time zone {name!r}: give an IANA name such as Europe/Lisbon or UTC")
    return found


@cache
def _zone_or_none(name: str) -> ZoneInfo | None:
    if not name or name != name.strip():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def resolved(name: str | None) -> str:
    """The zone to store for an option: the name given, checked, or this machine's own."""
    if name is None:
        return local_zone_name()
    zone(name)
    return name


def local_zone_name() -> str:
    """This machine's IANA zone: ``TZ`` when it names one, else what ``/etc/localtime`` points at."""
    candidates = [os.environ.get("TZ", "").removeprefix(":")]
    try:
        link = str(Path("/etc/localtime").resolve())
    except OSError:
        link = ""
    if "zoneinfo/" in link:
        candidates.append(link.split("zoneinfo/", 1)[1])
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="ascii", errors="replace").strip())
    except OSError:
        pass
    for name in candidates:
        if name and _zone_or_none(name) is not None:
            return name
    return DEFAULT_ZONE


def first_instant(local: datetime, zone_name: str) -> datetime:
    """The first instant (UTC) whose wall clock in the zone reads ``local`` or later.

    For a time that exists once, that is it; when the hour repeats, its first occurrence; when
    the clock skips it, the instant the clock jumps (the end of the gap).
    """
    tz = zone(zone_name)
    naive = local.replace(tzinfo=None)
    # One instant, or the two readings of a repeated or skipped time.
    readings = sorted({naive.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)})
    earlier, later = readings[0], readings[-1]
    for instant in readings:
        if _wall(instant, tz) == naive:
            return instant
    # Skipped: the wall clock reads before ``naive`` at ``earlier`` and after it at ``later``.
    low, high = earlier, later
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, tz) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)
