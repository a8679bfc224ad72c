"""Managing the environment's front-ends: list, add, remove, disable, enable (section 7).

A front-end is a folder on this machine or an ``ssh://`` target. Adding one checks that it can be
reached and written (for SSH: the host key is known and the key is accepted) before anything is
stored; the next Deploy All brings it up to date. A disabled front-end is left out of every run
and every check until it is enabled again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.engine.audit import audit, audited
from app.engine.context import EnvironmentContext
from app.engine.errors import BadInputError, RefusedError, StateError
from app.engine.frontend.ownership import Owner, adopt, claim
from app.engine.frontend.registry import LOCAL, SSH, Frontend, opened
from app.engine.frontend.ssh.url import SshUrl, parse_target
from app.engine.frontend.target import FrontendError, FrontendTarget
from app.engine.kinds.recovery import begin_operation
from app.engine.lookup import frontends_of_session, owner
from app.engine.runs import records
from app.engine.store.models import DeploymentRow, FrontendRow

NAME_LIMIT = 200


@dataclass(frozen=True)
class Target:
    """A checked front-end TARGET: its kind and the one spelling it is stored under."""

    kind: str
    location: str

    @classmethod
    def parse(cls, text: str) -> Target:
        """Refuse a malformed target (bad input); a local folder must be given as an absolute
        path or one relative to where the command runs."""
        parsed = parse_target(text)
        if isinstance(parsed, SshUrl):
            return cls(SSH, str(parsed))
        if not str(parsed).strip():
            raise BadInputError("a front-end target cannot be empty")
        return cls(LOCAL, str(Path(parsed).expanduser().absolute()))

    def frontend(self, name: str) -> Frontend:
        return Frontend(0, name, self.location, self.kind)


def reachable_now(target: FrontendTarget) -> None:
    """A front-end being set up must be reachable: otherwise exit 4, not possible now."""
    try:
        target.check()
    except FrontendError as error:
        raise StateError(error.message) from None


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_LIMIT or any(ch in name for ch in "\r\n\t"):
        raise BadInputError(f"a front-end name must be 1 to {NAME_LIMIT} characters on one line")
    return name


def list_frontends(ctx: EnvironmentContext) -> list[Frontend]:
    with ctx.db.read() as session:
        records.environment(session)
        return frontends_of_session(session)


def add_frontend(
    ctx: EnvironmentContext, name: str, target_text: str, health_cmd: str | None = None, *, adopt_it: bool = False
) -> Frontend:
    """Record a new front-end after checking it can be reached; modules reach it at the next deploy.

    One that another environment owns is refused unless ``adopt_it`` takes it over.
    """
    name = check_name(name)
    target = Target.parse(target_text)
    with audited(ctx, "frontend-add", name), ctx.db.write() as session:
        env = begin_operation(session)
        _refuse_while_running(session, f"adding front-end {name}")
        _refuse_duplicates(session, name, target)
        candidate = target.frontend(name)
        if target.kind == LOCAL:
            if candidate.path.exists() and not candidate.path.is_dir():
                raise BadInputError(f"front-end {candidate.location} is a file, not a folder")
            candidate.path.mkdir(parents=True, exist_ok=True)
        opened = candidate.target()
        try:
            reachable_now(opened)  # unreachable, unknown host key, refused key: one line, nothing stored
            if adopt_it:
                adopt(opened, owner(ctx, env))
            hint = "If this environment should own it, add it with --adopt"
            claim([opened], owner(ctx, env), hint)  # another environment's: exit 4
        finally:
            opened.close()
        row = FrontendRow(name=name, path=target.location, kind=target.kind, enabled=True, health_cmd=health_cmd)
        session.add(row)
        session.flush()
        audit(session, "frontend-add", name, "done", target.location)
        return Frontend(row.id, name, target.location, target.kind, True, health_cmd)


def remove_frontend(ctx: EnvironmentContext, name: str) -> Frontend:
    """Forget a front-end. Its files stay where they are; its rows of deployment history go."""
    with audited(ctx, "frontend-remove", name), ctx.db.write() as session:
        begin_operation(session)
        row = _find(session, name)
        _refuse_while_running(session, f"removing front-end {row.name}")
        others = session.scalar(select(func.count()).select_from(FrontendRow).where(FrontendRow.id != row.id))
        if not others:
            raise BadInputError(f"front-end {row.name} is the environment's only one; add another first")
        if row.enabled:
            _refuse_last_enabled(session, row)
        gone = Frontend(row.id, row.name, row.path, row.kind, row.enabled, row.health_cmd)
        session.execute(delete(DeploymentRow).where(DeploymentRow.frontend_id == row.id))
        session.delete(row)
        audit(session, "frontend-remove", gone.name, "done", gone.location)
        return gone


def set_enabled(ctx: EnvironmentContext, name: str, enabled: bool) -> Frontend:
    """Take a front-end out of every run (drain it), or bring it back for the next Deploy All."""
    operation = "frontend-enable" if enabled else "frontend-disable"
    with audited(ctx, operation, name), ctx.db.write() as session:
        begin_operation(session)
        row = _find(session, name)
        _refuse_while_running(session, f"{'enabling' if enabled else 'disabling'} front-end {row.name}")
        if not enabled and row.enabled:
            _refuse_last_enabled(session, row)
        row.enabled = enabled
        audit(session, operation, row.name, "done")
        return Frontend(row.id, row.name, row.path, row.kind, row.enabled, row.health_cmd)


def adopt_frontend(ctx: EnvironmentContext, name: str) -> tuple[Frontend, Owner | None]:
    """Take a front-end over from whichever environment stamped it; returns that one's stamp."""
    with audited(ctx, "frontend-adopt", name), ctx.db.write() as session:
        env = begin_operation(session)
        row = _find(session, name)
        _refuse_while_running(session, f"adopting front-end {row.name}")
        frontend = Frontend(row.id, row.name, row.path, row.kind, row.enabled, row.health_cmd)
        with opened([frontend]) as (target,):
            previous = adopt(target, owner(ctx, env))
        was = f"from {previous.name} ({previous.database})" if previous is not None else "unclaimed"
        audit(session, "frontend-adopt", row.name, "done", was)
        return frontend, previous


def _find(session: Session, name: str) -> FrontendRow:
    row = session.scalars(select(FrontendRow).where(func.lower(FrontendRow.name) == name.strip().casefold())).first()
    if row is None:
        known = ", ".join(session.scalars(select(FrontendRow.name).order_by(FrontendRow.id))) or "none"
        raise BadInputError(f"unknown front-end '{name}' (front-ends: {known})")
    return row


def _refuse_duplicates(session: Session, name: str, target: Target) -> None:
    for frontend in frontends_of_session(session):
        if frontend.name.casefold() == name.casefold():
            raise BadInputError(f"there is already a front-end named {frontend.name}")
        if frontend.key == target.frontend(name).key:
            raise BadInputError(f"{target.location} is already front-end {frontend.name} of this environment")


def _refuse_last_enabled(session: Session, row: FrontendRow) -> None:
    others = session.scalar(
        select(func.count()).select_from(FrontendRow).where(FrontendRow.id != row.id, FrontendRow.enabled.is_(True))
    )
    if not others:
        raise BadInputError(f"front-end {row.name} is the only one enabled; runs would have nowhere to deploy")


def _refuse_while_running(session: Session, what: str) -> None:
    active = records.active_runs(session)
    if active:
        raise RefusedError(
            f"{what} refused: {records.RunRef.of(active[0]).describe()} is still active", run_id=active[0].id
        )
