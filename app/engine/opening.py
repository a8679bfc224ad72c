"""Opening an environment that exists, for one command: checked, settled, and failing in one line.

Every command of the command line that works on an environment goes through ``existing``: the
environment row must be there (else ``StateError``, exit 4), any database failure inside the
command becomes one line naming the file, and runs whose process died are reconciled with the
front-ends before the command does anything else, and source zips an older release stored with
secrets in them are rewritten (``secret_sources``). A read-only database skips these steps; the
next command that may write does them.

Each such command also sends the webhook events that are due, on a background thread, and
waits for that thread only a moment when it ends (``webhooks.sender.BackgroundSender``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.engine.context import EnvironmentContext, Location, open_context
from app.engine.errors import StateError


@contextmanager
def existing(location: Location, *, send_events: bool = True) -> Iterator[EnvironmentContext]:
    """The environment at ``location``, opened for the length of one command.

    ``send_events``: send the due webhook events meanwhile (not for commands that send them themselves).
    """
    from app.engine.runs.records import environment, has_stale_runs
    from app.engine.store.database import translate_db_errors
    from app.engine.webhooks.sender import BackgroundSender

    ctx = open_context(location)
    sender: BackgroundSender | None = None
    try:
        with translate_db_errors(ctx.db):
            with ctx.db.read() as session:
                env = environment(session)
                stale = not ctx.db.read_only and has_stale_runs(session)
                clear_sources = not ctx.db.read_only and bool(env.clear_sources)
            if send_events and not ctx.db.read_only:
                sender = BackgroundSender(ctx.db)
                sender.start()
            if stale:
                from app.engine.kinds.recovery import recover_dead_runs  # here: most commands find none

                recover_dead_runs(ctx)
            if clear_sources:  # once, after an upgrade from a release that stored secrets there
                from app.engine.secret_sources import rewrite_clear_sources

                rewrite_clear_sources(ctx)
            yield ctx
    finally:
        if sender is not None:
            sender.finish()
        ctx.close()


def check_database(ctx: EnvironmentContext) -> None:
    """Refuse a damaged database file (``StateError`` naming it and what to do); reads the whole file."""
    from app.engine.store.database import RESTORE_ADVICE

    damage = ctx.db.check_integrity()
    if damage:
        more = f" and {len(damage) - 1} more problem(s)" if len(damage) > 1 else ""
        raise StateError(f"the database {ctx.db.file_or_url()} is damaged ({damage[0]}{more}); {RESTORE_ADVICE}")
