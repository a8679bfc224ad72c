"""Changing change control: weekly windows and dated freezes (the approvals planned runs need are
a setting of the environment's policy, ``engine.policy``).

Every change is checked in full before anything is stored (bad input is exit 2 with nothing
written) and audited in the transaction that stores it. Listings give each entry its id and its
times as ISO 8601 with their offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.engine.audit import audit, audited
from app.engine.context import EnvironmentContext
from app.engine.control.gate import load_schedule
from app.engine.control.identity import approver
from app.engine.control.schedule import (
    Freeze,
    Moment,
    Window,
    format_hours,
    parse_local_time,
    parse_window_start,
    window_minutes,
)
from app.engine.control.zones import resolved
from app.engine.errors import BadInputError
from app.engine.identity import utcnow
from app.engine.kinds.recovery import begin_operation
from app.engine.store.models import ChangeFreezeRow, ChangeWindowRow


@dataclass(frozen=True)
class WindowEntry:
    window: Window
    opens: Moment | None  # the next opening after now, or the current one's while it is open
    closes: Moment | None
    open_now: bool

    def to_json(self) -> dict[str, Any]:
        w = self.window
        return {
            "id": w.id,
            "start": w.start_text,
            "hours": w.minutes / 60,
            "zone": w.zone,
            "open_now": self.open_now,
            "opens": self.opens.iso() if self.opens else None,
            "closes": self.closes.iso() if self.closes else None,
        }


@dataclass(frozen=True)
class FreezeEntry:
    freeze: Freeze
    active: bool

    def to_json(self) -> dict[str, Any]:
        f = self.freeze
        return {
            "id": f.id,
            "from": Moment(f.starts_at, f.zone).iso(),
            "to": Moment(f.ends_at, f.zone).iso(),
            "zone": f.zone,
            "reason": f.reason,
            "active": self.active,
        }


def add_window(ctx: EnvironmentContext, start: str, hours: float, zone_name: str | None) -> WindowEntry:
    """A weekly window from ``start`` (``Sat 22:00``) for ``hours``, in the zone given or this machine's."""
    weekday, minute = parse_window_start(start)
    minutes = window_minutes(hours)
    zone = resolved(zone_name)
    with audited(ctx, "window-add", start), ctx.db.write() as session:
        begin_operation(session)
        row = ChangeWindowRow(
            weekday=weekday,
            start_minute=minute,
            minutes=minutes,
            zone=zone,
            created_at=utcnow(),
            created_by=approver(session),
        )
        session.add(row)
        session.flush()
        window = _window(row)
        audit(session, "window-add", f"window {row.id}", "done", window.describe())
        return _window_entry(window, utcnow())


def remove_window(ctx: EnvironmentContext, window_id: int) -> Window:
    with audited(ctx, "window-remove", f"window {window_id}"), ctx.db.write() as session:
        begin_operation(session)
        row = session.get(ChangeWindowRow, window_id)
        if row is None:
            raise BadInputError(f"there is no window {window_id} (see window list)")
        window = _window(row)
        session.delete(row)
        audit(session, "window-remove", f"window {window_id}", "done", window.describe())
        return window


def windows(ctx: EnvironmentContext) -> list[WindowEntry]:
    now = utcnow()
    with ctx.db.read() as session:
        rows = session.scalars(select(ChangeWindowRow).order_by(ChangeWindowRow.id)).all()
        return [_window_entry(_window(row), now) for row in rows]


def add_freeze(
    ctx: EnvironmentContext, starts: str, ends: str, zone_name: str | None, reason: str | None
) -> FreezeEntry:
    """A freeze from ``starts`` to ``ends`` (local date-times, read in the zone given or this machine's)."""
    zone = resolved(zone_name)
    starts_at = parse_local_time(starts, zone, "FROM")
    ends_at = parse_local_time(ends, zone, "TO")
    if ends_at <= starts_at:
        raise BadInputError(f"the freeze ends ({ends}) before it starts ({starts}); give FROM then TO")
    with audited(ctx, "freeze-add", f"{starts} {ends}"), ctx.db.write() as session:
        begin_operation(session)
        row = ChangeFreezeRow(
            starts_at=starts_at,
            ends_at=ends_at,
            zone=zone,
            reason=(reason or "").strip() or None,
            created_at=utcnow(),
            created_by=approver(session),
        )
        session.add(row)
        session.flush()
        freeze = _freeze(row)
        audit(session, "freeze-add", f"freeze {row.id}", "done", freeze.describe())
        return FreezeEntry(freeze, freeze.holds(utcnow()))


def remove_freeze(ctx: EnvironmentContext, freeze_id: int) -> Freeze:
    with audited(ctx, "freeze-remove", f"freeze {freeze_id}"), ctx.db.write() as session:
        begin_operation(session)
        row = session.get(ChangeFreezeRow, freeze_id)
        if row is None:
            raise BadInputError(f"there is no freeze {freeze_id} (see freeze list)")
        freeze = _freeze(row)
        session.delete(row)
        audit(session, "freeze-remove", f"freeze {freeze_id}", "done", freeze.describe())
        return freeze


def freezes(ctx: EnvironmentContext) -> list[FreezeEntry]:
    now = utcnow()
    with ctx.db.read() as session:
        return [FreezeEntry(freeze, freeze.holds(now)) for freeze in load_schedule(session).freezes]


def _window(row: ChangeWindowRow) -> Window:
    return Window(row.id, row.weekday, row.start_minute, row.minutes, row.zone)


def _freeze(row: ChangeFreezeRow) -> Freeze:
    return Freeze(row.id, row.starts_at, row.ends_at, row.zone, row.reason)


def _window_entry(window: Window, now: datetime) -> WindowEntry:
    for opens, closes in window.openings(now):
        if closes > now:  # the one open now, or else the next
            return WindowEntry(window, Moment(opens, window.zone), Moment(closes, window.zone), opens <= now)
    return WindowEntry(window, None, None, False)


def describe_window(entry: WindowEntry) -> str:
    """One line for people: when it recurs, and when it is next open."""
    w = entry.window
    when = f"open now, until {entry.closes}" if entry.open_now else f"next opens {entry.opens}"
    return f"{w.id}: {w.start_text} for {format_hours(w.minutes)} ({w.zone}); {when}"
