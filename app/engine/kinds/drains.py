"""What the record keeps of a front-end's drains and hooks, and undraining what a run left drained.

A rolling run records a front-end as drained by it before it runs the drain command, and clears
that once the undrain command passed: a run that dies in between leaves the front-end shown as
drained by that run (``status``, ``frontend list``) until the next command that changes
something undrains it (``undrain_left_behind``, from ``recovery.begin_operation``). Every hook
and check also leaves what it said on its front-end, for the window's "last output".
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.engine.audit import audit
from app.engine.frontend.hooks import HookResult, Phase, run_hook
from app.engine.frontend.registry import Frontend
from app.engine.identity import utcnow
from app.engine.lookup import frontend_of_row
from app.engine.runs import records
from app.engine.store.database import Database
from app.engine.store.models import FrontendRow

# Warnings here are for the user: the command line prints them (``cli.main``).
log = logging.getLogger("app.engine.kinds.recovery.drains")

HOOK_LIMIT = 60.0  # seconds a drain or undrain command may take


def note_hook(session: Session, frontend_id: int, result: HookResult) -> None:
    """Keep what a hook or check on a front-end last said."""
    session.execute(
        update(FrontendRow)
        .where(FrontendRow.id == frontend_id)
        .values(last_hook=result.to_json(utcnow().isoformat(timespec="seconds")))
    )


class DrainBook:
    """A run's drains and hooks as the record keeps them: each one its own short transaction."""

    def __init__(self, db: Database, run_id: int) -> None:
        self._db = db
        self._run_id = run_id

    def drained(self, frontend: Frontend) -> None:
        """Before the drain command runs: a run that dies now still knows to undrain it."""
        with self._db.write() as session:
            session.execute(
                update(FrontendRow)
                .where(FrontendRow.id == frontend.id)
                .values(drained_by_run=self._run_id, drained_at=utcnow())
            )

    def undrained(self, frontend: Frontend) -> None:
        with self._db.write() as session:
            session.execute(
                update(FrontendRow)
                .where(FrontendRow.id == frontend.id, FrontendRow.drained_by_run == self._run_id)
                .values(drained_by_run=None, drained_at=None)
            )

    def note(self, frontend: Frontend, result: HookResult) -> None:
        with self._db.write() as session:
            note_hook(session, frontend.id, result)


def undrain_left_behind(session: Session) -> list[str]:
    """Undrain every front-end a run that is over left drained; inside a writer transaction.

    Its undrain command runs (one that fails leaves it drained, said and tried again by the next
    command); a front-end without one is only marked undrained. Returns the front-ends undrained.
    """
    rows = session.scalars(select(FrontendRow).where(FrontendRow.drained_by_run.is_not(None))).all()
    if not rows:
        return []
    active = {run.id for run in records.active_runs(session)}
    undrained = []
    for row in rows:
        run_id = row.drained_by_run
        if run_id in active:
            continue  # its run is still switching: it undrains it itself
        frontend = frontend_of_row(row)
        if frontend.undrain_cmd:
            result = run_hook(
                frontend.undrain_cmd, frontend=frontend.name, run_id=run_id, phase=Phase.UNDRAIN, limit=HOOK_LIMIT
            )
            note_hook(session, frontend.id, result)
            problem = result.problem(f"undrain command of front-end {frontend.name}")
            if problem is not None:
                log.warning("front-end %s is still drained, left so by run %s: %s", frontend.name, run_id, problem)
                audit(session, "undrain", frontend.name, "failed", f"left drained by run {run_id}: {problem}")
                continue
        row.drained_by_run = None
        row.drained_at = None
        how = "its undrain command passed" if frontend.undrain_cmd else "it has no undrain command"
        log.warning("front-end %s was left drained by run %s: undrained (%s)", frontend.name, run_id, how)
        audit(session, "undrain", frontend.name, "done", f"left drained by run {run_id}")
        undrained.append(frontend.name)
    return undrained
