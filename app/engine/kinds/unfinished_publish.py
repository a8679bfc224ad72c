"""A publish that stopped before it compiled some of its new versions: those versions are discarded.

A publish records each new version (and stores its source) before compiling it. Killed in
between, or cancelled before it reached a module, it leaves a module whose latest version has no
compilation: Deploy All skips it as ``not-prepared`` and nothing else would ever compile it.
Settling the dead run (``recovery``), or the end of a cancelled one, discards such a version
rather than finishing it: finishing would compile, and a publish also deploys, inside
whatever command comes next (a ``status``, a ``verify``), changing front-ends no one asked to
change there; discarding is quick, touches only the record, and leaves the environment as if the
publish had not reached that module, which publishing the bundle again completes.

A discarded version keeps its row (history is never deleted, and its number is not given again)
but is no longer its module's latest: the module is back at its newest version that compiled, with
that version's application and description. A module the publish created has no such version and
is deleted again, which frees its name. Each discarded version is named on its run item, in the
audit log and in the notice the caller shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.expression import Exists

from app.engine.audit import audit
from app.engine.context import EnvironmentContext
from app.engine.events import EventSink, LogLine
from app.engine.identity import utcnow
from app.engine.store.models import CompilationRow, ModuleRow, ModuleVersionRow, RunItemRow, RunRow
from app.engine.vocabulary import ItemStatus, RunKind

NAMED = 5  # discarded versions named in one notice; the run's items name them all


@dataclass(frozen=True)
class Discarded:
    """A version a dead publish never compiled, and what its module is back at (None: removed)."""

    module: str
    version: int
    back_to: int | None

    def describe(self) -> str:
        where = "removed" if self.back_to is None else f"back to version {self.back_to}"
        return f"{self.module} version {self.version} ({where})"

    def message(self) -> str:
        """What its run item says."""
        where = "removed again" if self.back_to is None else f"back at version {self.back_to}"
        return f"discarded: the publish stopped before version {self.version} compiled; the module is {where}"


def discard_unreached(ctx: EnvironmentContext, run_id: int, on_event: EventSink) -> None:
    """At the end of publish ``run_id``: discard the versions of the modules it never reached
    (cancelled), say so in the run's log and in the audit log."""
    with ctx.db.write() as session:
        run = session.get(RunRow, run_id)
        assert run is not None
        discarded = discard_uncompiled(session, run, (ItemStatus.CANCELLED,), reason="cancelled")
        if discarded:
            said = summary(run, discarded)
            audit(session, RunKind.PUBLISH, f"run {run_id}", "discarded", said)
    if discarded:
        on_event(LogLine(run_id, "warning", said, utcnow()))


def discard_uncompiled(
    session: Session,
    run: RunRow,
    statuses: Sequence[ItemStatus] = (ItemStatus.PENDING, ItemStatus.DEPLOYING),
    *,
    reason: str = "interrupted",
) -> list[Discarded]:
    """Discard the versions publish ``run`` recorded and never compiled, for its items in
    ``statuses`` (by default those a dead run left unfinished), and say so on those items (now
    cancelled, with ``reason``); inside a writer transaction."""
    if run.kind != RunKind.PUBLISH:
        return []
    found = session.execute(
        select(RunItemRow.id, ModuleRow, ModuleVersionRow)
        .join(ModuleRow, ModuleRow.id == RunItemRow.module_id)
        .join(
            ModuleVersionRow,
            (ModuleVersionRow.module_id == RunItemRow.module_id) & (ModuleVersionRow.number == RunItemRow.version),
        )
        .where(
            RunItemRow.run_id == run.id,
            RunItemRow.status.in_(list(statuses)),
            ModuleRow.latest_version_id == ModuleVersionRow.id,
            ~_compiled(ModuleVersionRow.id, run.platform_version),
        )
        .order_by(RunItemRow.position)
    ).all()
    discarded = [(item_id, _discard(session, module, version)) for item_id, module, version in found]
    if discarded:
        now = utcnow()
        changes = [
            {
                "id": item_id,
                "status": ItemStatus.CANCELLED,
                "reason": reason,
                "message": done.message(),
                "finished_at": now,
            }
            for item_id, done in discarded
        ]
        session.execute(update(RunItemRow), changes)  # by primary key, in one statement
    return [done for _item_id, done in discarded]


def summary(run: RunRow, discarded: Sequence[Discarded]) -> str:
    """One line for the operator and the audit log: which versions went, and what to do."""
    named = ", ".join(done.describe() for done in discarded[:NAMED])
    more = f" and {len(discarded) - NAMED} more" if len(discarded) > NAMED else ""
    return (
        f"run {run.id} ({run.kind}) stopped before compiling {len(discarded)} new version(s), "
        f"discarded: {named}{more}; publish those bundles again"
    )


def _compiled(version_id: InstrumentedAttribute[int], platform: str) -> Exists:
    return exists().where(CompilationRow.module_version_id == version_id, CompilationRow.platform_version == platform)


def _discard(session: Session, module: ModuleRow, version: ModuleVersionRow) -> Discarded:
    """Put ``module`` back at its newest version that compiled, or delete it when it has none."""
    previous = session.scalars(
        select(ModuleVersionRow)
        .where(
            ModuleVersionRow.module_id == module.id,
            ModuleVersionRow.number < version.number,
            exists().where(CompilationRow.module_version_id == ModuleVersionRow.id),
        )
        .order_by(ModuleVersionRow.number.desc())
        .limit(1)
    ).first()
    if previous is None:
        module.deleted_at = utcnow()
        return Discarded(module.name, version.number, None)
    module.latest_version_id = previous.id
    manifest = previous.manifest or {}
    module.application = str(manifest.get("application") or module.application)
    module.description = str(manifest.get("description") or "")
    return Discarded(module.name, version.number, previous.number)
