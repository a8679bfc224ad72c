"""``status`` read straight from the environment's SQLite file with the standard library.

Importing SQLAlchemy and the models costs about 0.3 s, most of a ``status`` at 100,000 modules
(bench/RESULTS.md). This reader answers the common case without them: the default SQLite
database, at the schema this release expects, with no run in progress. Whenever it cannot be
sure (another database, a schema to migrate, a folder it may not write, a run to show or to
settle, a lock, any database error) it returns None and the command opens the environment the
usual way, which then does what it always did: migrate, recover a dead run, or report the
problem in one line. The SQL is the same as ``views.status``'s; the tests compare the two.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime

from app.engine.context import Location
from app.engine.control.now import ChangeControlState, state_of
from app.engine.control.schedule import Freeze, Schedule, Window
from app.engine.errors import StateError
from app.engine.frontend.registry import Frontend
from app.engine.read.status import Status, state_counts
from app.engine.store.revisions import head_from_scripts
from app.engine.store.sqlite_file import DATABASE_FILE, prepare_sqlite_file, writable
from app.engine.vocabulary import ItemStatus, ModuleState, RunKind, RunStatus

# Paths that SQLAlchemy's URL spells as they are; for others (``%``, ``?``, ``@``, non-ASCII ...)
# the ``database`` shown is SQLAlchemy's own spelling, left to the usual path.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._+~ -]+")

_STATE_COUNTS = """
SELECT count(*),
       count(c.id),
       sum(CASE WHEN c.succeeded IS 0 THEN 1 ELSE 0 END),
       sum(CASE WHEN c.succeeded IS NOT 0 AND m.deployed_compilation_id = c.id THEN 1 ELSE 0 END)
FROM module AS m
LEFT OUTER JOIN compilation AS c ON c.module_version_id = m.latest_version_id AND c.platform_version = ?
WHERE m.deleted_at IS NULL
"""

_STAGED_COUNT = f"""
SELECT count(DISTINCT m.id)
FROM module AS m
JOIN compilation AS c ON c.module_version_id = m.latest_version_id AND c.platform_version = ? AND c.succeeded IS 1
JOIN run_item AS i ON i.module_id = m.id AND i.compilation_id = c.id AND i.status = '{ItemStatus.STAGED}'
JOIN run AS r ON r.id = i.run_id AND r.kind = '{RunKind.STAGE}'
WHERE m.deleted_at IS NULL AND (m.deployed_compilation_id IS NULL OR m.deployed_compilation_id != c.id)
"""


def read_status(location: Location) -> Status | None:
    """The environment's status, or None when only the usual path can tell."""
    path = location.data_dir / DATABASE_FILE
    if not location.uses_default_database or not _PLAIN_PATH.fullmatch(str(path)):
        return None
    if not path.is_file() or not writable(path):
        return None
    try:
        prepare_sqlite_file(path, read_only=False)  # the modes tightened, the header checked, as usual
    except StateError:
        return None
    head = head_from_scripts()
    if head is None:
        return None
    try:
        # timeout 0: a database busy even for a reader goes to the usual path, which waits.
        connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        return _read(connection, head, location.url)
    except sqlite3.Error:
        return None
    finally:
        connection.close()


def _read(connection: sqlite3.Connection, head: str, url: str) -> Status | None:
    connection.execute("BEGIN")  # one snapshot for every query below
    try:
        revisions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        if revisions != [(head,)]:
            return None
        if connection.execute("SELECT 1 FROM run WHERE status = ? LIMIT 1", (RunStatus.RUNNING,)).fetchone():
            return None  # active runs: shown, and settled when dead, by the usual path
        env = connection.execute("SELECT name, platform_version FROM environment WHERE id = 1").fetchone()
        if env is None:
            return None
        name, platform = env
        states = state_counts(*connection.execute(_STATE_COUNTS, (platform,)).fetchone())
        staged = connection.execute(_STAGED_COUNT, (platform,)).fetchone()[0]
        upgrade = connection.execute(
            "SELECT from_version, to_version FROM platform_upgrade ORDER BY id DESC LIMIT 1"
        ).fetchone()
        change_control = _change_control(connection)
        frontends = tuple(
            Frontend(id_, fe_name, location, kind, bool(enabled), *hooks)
            for id_, fe_name, location, kind, enabled, *hooks in connection.execute(
                "SELECT id, name, path, kind, enabled, health_cmd, drain_cmd, undrain_cmd, health_url,"
                " health_timeout, drained_by_run FROM frontend ORDER BY id"
            )
        )
    finally:
        connection.execute("ROLLBACK")
    return Status(
        name=name,
        platform_version=platform,
        frontends=frontends,
        upgrade_from=upgrade[0] if upgrade else None,
        upgrade_to=upgrade[1] if upgrade else None,
        total=sum(states.values()),
        ready=states[ModuleState.READY],
        compilation_failed=states[ModuleState.COMPILATION_FAILED],
        deployed=states[ModuleState.DEPLOYED],
        not_prepared=states[ModuleState.NOT_PREPARED],
        active_runs=(),
        database=url,
        staged=int(staged or 0),
        change_control=change_control,
    )


def _change_control(connection: sqlite3.Connection) -> ChangeControlState:
    """The same answer as ``views.status`` gives, from the same rows and the same pure rules."""
    (approvals,) = connection.execute("SELECT approvals_required FROM environment WHERE id = 1").fetchone()
    windows = tuple(
        Window(*row)
        for row in connection.execute("SELECT id, weekday, start_minute, minutes, zone FROM change_window ORDER BY id")
    )
    freezes = tuple(
        Freeze(id_, _utc(starts), _utc(ends), zone, reason)
        for id_, starts, ends, zone, reason in connection.execute(
            "SELECT id, starts_at, ends_at, zone, reason FROM change_freeze ORDER BY starts_at, id"
        )
    )
    return state_of(Schedule(windows, freezes), int(approvals or 0), datetime.now(UTC))


def _utc(stored: str) -> datetime:
    """A UTC column as SQLAlchemy's SQLite dialect stores it: ISO text without an offset."""
    return datetime.fromisoformat(stored).replace(tzinfo=UTC)
