"""Settling runs whose process died, so that the record matches the front-ends again (rules.md#reconcile).

A run that dies may leave a module switched on some front-ends and not on others, or switched
everywhere but not recorded. Before anything else, the next command that opens the environment
looks at every module the dead run had not finished and makes the front-ends and the record agree:

- when the run's release is live somewhere and its compilation is recorded, the switch is
  finished on the other front-ends (the release was staged everywhere before any switch) and the
  module is recorded as deployed;
- otherwise the front-ends that moved are switched back to the recorded release.

A rolling run (rules.md#rolling), or one with a soak, is always switched back: its checks had not
all passed, and nothing of it is recorded as live before they have. Its items that were staged,
waiting for the switch, fail as interrupted. A rollback's release is the older compilation it was
going back to.

Then the work files the run left (temp ``CURRENT`` and ``config.json`` files, staging folders)
are removed from every front-end that answers, for the modules the run held: its locks say no
other call can be working on them. Complete releases stay, a stage run's among them, since a
later run switches those. A front-end that does not answer keeps its leftovers; ``verify``
reports them, and the next stage of those modules clears them.

A publish's versions it never compiled are discarded (``unfinished_publish``). Then the run is
closed as ``interrupted`` and its locks are freed, and what was done is said (a warning the
command line prints). A front-end the dead run left drained stays drained, and shown so, until a
command that changes something undrains it (``drains.undrain_left_behind``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.engine.audit import audit
from app.engine.config import config_bytes, declared_defaults, effective_config
from app.engine.context import EnvironmentContext
from app.engine.frontend.layout import release_id_for
from app.engine.frontend.registry import Frontend, enabled, opened
from app.engine.frontend.target import FrontendError, FrontendTarget, Switch
from app.engine.identity import utcnow
from app.engine.kinds.drains import undrain_left_behind
from app.engine.kinds.ledger import Deployed, record_deployments
from app.engine.kinds.unfinished_publish import discard_uncompiled, summary
from app.engine.lookup import frontends_of_session
from app.engine.runs import records
from app.engine.store.models import (
    CompilationRow,
    EnvironmentRow,
    ModuleLockRow,
    ModuleRow,
    ModuleVersionRow,
    RunItemRow,
    RunRow,
)
from app.engine.vocabulary import ItemStatus, RunKind, RunStatus

log = logging.getLogger(__name__)

WAITING_MESSAGE = "staged; the run stopped before switching it, and nothing of it stayed live"
FINISHED_MESSAGE = "live on every front-end: the switch was finished after the run's process died"


@dataclass(frozen=True)
class _Module:
    """One module the dead run had not finished, and the two releases it may be found in."""

    item_id: int
    module_id: int
    name: str
    recorded: str | None  # what the record says is live
    recorded_config: bytes | None
    intended: str | None  # the run's release, when its compilation is recorded
    intended_compilation: int | None
    intended_config: bytes | None


def begin_operation(session: Session) -> EnvironmentRow:
    """Serialize against other writers, settle runs whose owner died, and undrain the front-ends a
    run that is over left drained: what every command that changes something does first."""
    env = records.serialize_writers(session)
    settle_dead_runs(session)
    undrain_left_behind(session)
    return env


def recover_dead_runs(ctx: EnvironmentContext) -> list[int]:
    """Settle the runs whose process died, for a command that opens the environment.

    Takes the writer lock only when there is one: most commands find none, and a read-only view
    must not wait for a writer. What was done is logged as a warning, one line per run, which the
    command line also says on stderr.
    """
    with ctx.db.read() as session:
        if not records.has_stale_runs(session):
            return []
    with ctx.db.write() as session:
        records.serialize_writers(session)
        return settle_dead_runs(session)


def settle_dead_runs(session: Session) -> list[int]:
    """Reconcile and close every run whose owner died; inside a writer transaction. Their ids."""
    dead = [(run, why) for run in records.active_runs(session) if (why := records.why_dead(run)) is not None]
    if not dead:
        return []
    frontends = enabled(frontends_of_session(session))
    with opened(frontends) as targets:
        for run, why in dead:
            traits = RunKind(run.kind).traits
            finished = reconcile_run(session, run, frontends, targets) if traits.switches else 0
            cleared = clear_leftovers(session, run, targets) if traits.stages else 0
            if traits.switches:  # staged is a stage run's success, but only a step of a run that switches
                session.execute(
                    update(RunItemRow)
                    .where(RunItemRow.run_id == run.id, RunItemRow.status == ItemStatus.STAGED)
                    .values(
                        status=ItemStatus.FAILED, reason="interrupted", message=WAITING_MESSAGE, finished_at=utcnow()
                    )
                )
            note = f"; {finished} module(s) found switched were recorded as deployed" if finished else ""
            note += f"; {cleared} leftover work file(s) removed from the front-ends" if cleared else ""
            discarded = discard_uncompiled(session, run)  # once reconciled: the front-ends are back
            if discarded:
                note += f"; {summary(run, discarded)}"
            records.close_run(session, run, RunStatus.INTERRUPTED, f"interrupted: {why}{note}")
            log.warning(
                "run %s (%s) was interrupted (%s): the front-ends now run what the record says%s",
                run.id,
                run.kind,
                why,
                note,
            )
            audit(session, "recover", f"run {run.id}", RunStatus.INTERRUPTED, note.removeprefix("; ") or None)
    return [run.id for run, _why in dead]


def reconcile_run(
    session: Session, run: RunRow, frontends: Sequence[Frontend], targets: Sequence[FrontendTarget]
) -> int:
    """Make the front-ends agree with the record for the modules ``run`` had not finished.

    Returns how many of them were found switched and are now recorded as deployed.
    """
    modules = _unfinished_modules(session, run)
    if not modules or not targets:
        return 0
    names = [module.name for module in modules]
    live: list[dict[str, str | None]] = []
    for target in targets:
        try:
            live.append(target.read_current(names))
        except FrontendError as error:
            log.error("run %s: cannot reconcile front-end %s: %s", run.id, target.location, error)
            return 0  # not knowing one front-end, switching the others could make things worse
    forward = [
        m
        for m in modules
        if m.intended is not None and m.intended != m.recorded and any(found[m.name] == m.intended for found in live)
    ]
    finished = _switch(targets, live, [(m, m.intended, m.intended_config) for m in forward])
    back = [m for m in modules if m not in finished]
    _switch(targets, live, [(m, m.recorded, m.recorded_config) for m in back])
    for target in targets:
        try:
            target.flush()
        except FrontendError as error:
            log.error("run %s: %s", run.id, error)
    done = [m for m in forward if m in finished]
    deployed = [
        (m.module_id, Deployed(m.intended_compilation, m.intended))
        for m in done
        if m.intended_compilation is not None and m.intended is not None
    ]
    if deployed:
        record_deployments(session, frontends, deployed, run.id)
        session.execute(
            update(RunItemRow),
            [
                {
                    "id": m.item_id,
                    "status": ItemStatus.DEPLOYED,
                    "reason": None,
                    "message": FINISHED_MESSAGE,
                    "finished_at": utcnow(),
                }
                for m in done
            ],
        )
    return len(done)


def clear_leftovers(session: Session, run: RunRow, targets: Sequence[FrontendTarget]) -> int:
    """Remove the work files a dead run left on every front-end that answers; how many.

    Only for the modules the run still holds locked: no other call can be working on them.
    """
    modules = list(
        session.scalars(
            select(ModuleRow.name)
            .join(ModuleLockRow, ModuleLockRow.module_id == ModuleRow.id)
            .where(ModuleLockRow.run_id == run.id)
            .order_by(ModuleRow.name)
        )
    )
    if not modules:
        return 0
    count = 0
    for target in targets:
        try:
            removed = target.remove_leftovers(modules)
        except FrontendError as error:
            log.error("run %s: leftovers on front-end %s stay for now: %s", run.id, target.location, error)
            continue
        for module, paths in removed.items():
            log.info("run %s: removed from %s/%s: %s", run.id, target.location, module, ", ".join(paths))
            count += len(paths)
    return count


def _switch(
    targets: Sequence[FrontendTarget],
    live: Sequence[dict[str, str | None]],
    wanted: Sequence[tuple[_Module, str | None, bytes | None]],
) -> set[_Module]:
    """Switch each module to its release on every target that does not run it; those that made it."""
    failed: set[_Module] = set()
    for target, found in zip(targets, live, strict=True):
        moves = [
            (module, Switch(module.name, release, config))
            for module, release, config in wanted
            if found[module.name] != release
        ]
        if not moves:
            continue
        for (module, change), error in zip(moves, target.switch([change for _m, change in moves]), strict=True):
            if error is not None:
                log.error("reconciling %s on %s: %s", module.name, target.location, error)
                failed.add(module)
            else:
                found[module.name] = change.release_id
    return {module for module, _release, _config in wanted if module not in failed}


def _unfinished_modules(session: Session, run: RunRow) -> list[_Module]:
    # A staged item of a run that switches was waiting for its (rolling) switch.
    unfinished = (ItemStatus.PENDING, ItemStatus.DEPLOYING, ItemStatus.STAGED)
    rows = session.execute(
        select(RunItemRow.id, RunItemRow.version, RunItemRow.compilation_id, ModuleRow)
        .join(ModuleRow, ModuleRow.id == RunItemRow.module_id)
        .where(RunItemRow.run_id == run.id, RunItemRow.status.in_(unfinished))
        .order_by(RunItemRow.position)
    ).all()
    found = []
    for item_id, version, compilation_id, module in rows:
        overrides = dict(module.config_overrides or {})
        # A rolling or soaked run had not passed its checks: it goes back, whatever it switched.
        intended = None if run.rolling or run.soak else _intended(session, run, module.id, version, compilation_id)
        recorded_config = _config_of(session, module.deployed_compilation_id, overrides)
        found.append(
            _Module(
                item_id,
                module.id,
                module.name,
                module.deployed_release,
                recorded_config,
                intended[0] if intended else None,
                intended[1] if intended else None,
                _config_of(session, intended[1], overrides) if intended else None,
            )
        )
    return found


def _intended(
    session: Session, run: RunRow, module_id: int, version: int | None, compilation_id: int | None
) -> tuple[str, int] | None:
    """The release the run was making live and its compilation, when the compilation is recorded."""
    if version is None:
        return None
    query = (
        select(CompilationRow.id, CompilationRow.artifact_sha256, CompilationRow.platform_version)
        .join(ModuleVersionRow, ModuleVersionRow.id == CompilationRow.module_version_id)
        .where(CompilationRow.succeeded.is_(True))
    )
    if compilation_id is not None:  # a rollback's is for the platform it goes back to
        query = query.where(CompilationRow.id == compilation_id)
    else:  # a publish records its compilations with its deployments: there may be none yet
        query = query.where(
            ModuleVersionRow.module_id == module_id,
            ModuleVersionRow.number == version,
            CompilationRow.platform_version == run.platform_version,
        )
    row = session.execute(query).first()
    if row is None or row[1] is None:
        return None
    return release_id_for(version, row[2], row[1]), row[0]


def _config_of(session: Session, compilation_id: int | None, overrides: dict[str, str]) -> bytes | None:
    """The ``config.json`` that goes with a compilation's release; None when there is no release."""
    if compilation_id is None:
        return None
    manifest = session.scalar(
        select(ModuleVersionRow.manifest)
        .join(CompilationRow, CompilationRow.module_version_id == ModuleVersionRow.id)
        .where(CompilationRow.id == compilation_id)
    )
    return config_bytes(effective_config(declared_defaults(manifest), overrides))
