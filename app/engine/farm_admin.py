"""Managing the environment's front-ends: list, add, set, remove, disable, enable (rules.md#farms,
rules.md#hooks).

A front-end is a folder on this machine or an ``ssh://`` target. Adding one checks that it can be
reached and written (for SSH: the host key is known and the key is accepted) before anything is
stored; the next Deploy All brings it up to date. A disabled front-end is left out of every run
and every check until it is enabled again.

Its hooks (drain, undrain, health command, health URL and timeout) are given when it is added or
changed later with ``set_hooks``; each is checked when given (``hooks.check_command``,
``health.check_url``), so a hook that cannot run is refused before anything is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.engine.audit import audit, audited
from app.engine.context import EnvironmentContext
from app.engine.errors import BadInputError, Refusal, RefusedError, StateError
from app.engine.frontend import health
from app.engine.frontend.hooks import check_command
from app.engine.frontend.kinds import FrontendKind, parse_target
from app.engine.frontend.ownership import Owner, adopt, claim
from app.engine.frontend.registry import Frontend, opened
from app.engine.frontend.target import FrontendError, FrontendTarget
from app.engine.kinds.drains import note_hook
from app.engine.kinds.recovery import begin_operation
from app.engine.lookup import frontend_of_row, frontends_of_session, owner
from app.engine.runs import records
from app.engine.store.models import DeploymentRow, FrontendRow, ModuleRow

NAME_LIMIT = 200
# What ``--clear`` takes, and the column each one empties.
CLEARABLE = {
    "drain-cmd": "drain_cmd",
    "undrain-cmd": "undrain_cmd",
    "health-cmd": "health_cmd",
    "health-url": "health_url",
    "health-timeout": "health_timeout",
}


@dataclass(frozen=True)
class HookSettings:
    """Hooks as a user gives them: each one set (a value), cleared (named in ``clear``) or left alone (None)."""

    drain_cmd: str | None = None
    undrain_cmd: str | None = None
    health_cmd: str | None = None
    health_url: str | None = None
    health_timeout: float | None = None
    clear: frozenset[str] = field(default_factory=frozenset)  # options of CLEARABLE

    def checked(self) -> HookSettings:
        """The same settings with every hook checked and trimmed; ``BadInputError`` names the first bad one."""
        unknown = sorted(self.clear - CLEARABLE.keys())
        if unknown:
            raise BadInputError(f"--clear takes {', '.join(CLEARABLE)}, not {', '.join(unknown)}")
        both = sorted(option for option in self.clear if self.given().get(CLEARABLE[option]) is not None)
        if both:
            raise BadInputError(f"--{both[0]} is both given and cleared: give one of them")

        def command(text: str | None, option: str) -> str | None:
            return None if text is None else check_command(text, option)

        return replace(
            self,
            drain_cmd=command(self.drain_cmd, "--drain-cmd"),
            undrain_cmd=command(self.undrain_cmd, "--undrain-cmd"),
            health_cmd=command(self.health_cmd, "--health-cmd"),
            health_url=None if self.health_url is None else health.check_url(self.health_url),
            health_timeout=None if self.health_timeout is None else health.check_timeout(self.health_timeout),
        )

    def given(self) -> dict[str, Any]:
        """The columns these settings give a value, by name."""
        values = {column: getattr(self, column) for column in CLEARABLE.values()}
        return {column: value for column, value in values.items() if value is not None}

    def changes(self) -> dict[str, Any]:
        """Every column these settings change: the given values, and None for the cleared ones."""
        return {**{CLEARABLE[option]: None for option in self.clear}, **self.given()}


NO_HOOKS = HookSettings()


@dataclass(frozen=True)
class TargetSpec:
    """A checked front-end TARGET: its kind and the one spelling it is stored under."""

    kind: FrontendKind
    location: str

    @classmethod
    def parse(cls, text: str) -> TargetSpec:
        """Refuse a malformed target (bad input); a local folder may be relative to where the command runs."""
        return cls(*parse_target(text))

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
    ctx: EnvironmentContext,
    name: str,
    target_text: str,
    hooks: HookSettings = NO_HOOKS,
    *,
    adopt_it: bool = False,
) -> Frontend:
    """Record a new front-end after checking it can be reached; modules reach it at the next deploy.

    One that another environment owns is refused unless ``adopt_it`` takes it over.
    """
    name = check_name(name)
    target = TargetSpec.parse(target_text)
    hooks = hooks.checked()
    if hooks.clear:
        raise BadInputError("--clear changes a front-end that exists: use it with 'frontend set'")
    with audited(ctx, "frontend-add", name), ctx.db.write() as session:
        env = begin_operation(session)
        _refuse_while_running(session, f"adding front-end {name}")
        _refuse_duplicates(session, name, target)
        candidate = target.frontend(name)
        driver = target.kind.driver
        driver.check(target.location)
        driver.prepare(target.location)
        opened = candidate.target()
        try:
            reachable_now(opened)  # unreachable, unknown host key, refused key: one line, nothing stored
            if adopt_it:
                adopt(opened, owner(ctx, env))
            hint = "If this environment should own it, add it with --adopt"
            claim([opened], owner(ctx, env), hint)  # another environment's: exit 4
        finally:
            opened.close()
        row = FrontendRow(name=name, location=target.location, kind=target.kind, enabled=True, **hooks.given())
        session.add(row)
        session.flush()
        audit(session, "frontend-add", name, "done", target.location)
        return frontend_of_row(row)


def set_hooks(ctx: EnvironmentContext, name: str, hooks: HookSettings) -> Frontend:
    """Set or clear a front-end's hooks; each is checked before anything is stored."""
    hooks = hooks.checked()
    changes = hooks.changes()
    if not changes:
        raise BadInputError(
            "say what to change: --drain-cmd, --undrain-cmd, --health-cmd, --health-url, --health-timeout or --clear"
        )
    with audited(ctx, "frontend-set", name), ctx.db.write() as session:
        begin_operation(session)
        row = _find(session, name)
        _refuse_while_running(session, f"changing front-end {row.name}")
        for column, value in changes.items():
            setattr(row, column, value)
        said = ", ".join(f"{column} {'cleared' if value is None else 'set'}" for column, value in changes.items())
        audit(session, "frontend-set", row.name, "done", said)
        return frontend_of_row(row)


@dataclass(frozen=True)
class HealthNow:
    """A front-end's checks run once, now, against what it runs: for ``Test now`` in the window."""

    frontend: Frontend
    problem: str | None
    output: str
    modules: int  # modules a {module} URL was checked for


def check_health_now(ctx: EnvironmentContext, name: str, modules_checked: int = 10) -> HealthNow:
    """Run a front-end's health command and URL once, as a rolling run would after a switch.

    The drain and undrain commands are not run: they take a serving front-end out of its
    balancer. A ``{module}`` URL is checked for the first ``modules_checked`` modules live there.
    """
    with ctx.db.read() as session:
        frontend = frontend_of_row(_find(session, name))
        live = [
            module
            for module in session.scalars(
                select(ModuleRow.name)
                .where(ModuleRow.deleted_at.is_(None), ModuleRow.deployed_release.is_not(None))
                .order_by(ModuleRow.name)
                .limit(modules_checked)
            )
        ]
    if not health.has_checks(frontend):
        raise BadInputError(f"front-end {frontend.name} has no health command or URL to test")
    result = health.check_once(frontend, live, None)
    with ctx.db.write() as session:
        note_hook(session, frontend.id, health.as_hook_result(result, _checks_of(frontend)))
    return HealthNow(frontend, result.problem, result.output, len(live) if frontend.health_url else 0)


def _checks_of(frontend: Frontend) -> str:
    return " ; ".join(check for check in (frontend.health_cmd, frontend.health_url) if check)


def last_hooks(ctx: EnvironmentContext) -> Mapping[str, dict[str, Any]]:
    """Each front-end's last hook or check, by name: what it ran, when, and what it said."""
    with ctx.db.read() as session:
        return {
            name: dict(last)
            for name, last in session.execute(select(FrontendRow.name, FrontendRow.last_hook).order_by(FrontendRow.id))
            if last
        }


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
        gone = frontend_of_row(row)
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
        return frontend_of_row(row)


def adopt_frontend(ctx: EnvironmentContext, name: str) -> tuple[Frontend, Owner | None]:
    """Take a front-end over from whichever environment stamped it; returns that one's stamp."""
    with audited(ctx, "frontend-adopt", name), ctx.db.write() as session:
        env = begin_operation(session)
        row = _find(session, name)
        _refuse_while_running(session, f"adopting front-end {row.name}")
        frontend = frontend_of_row(row)
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


def _refuse_duplicates(session: Session, name: str, target: TargetSpec) -> None:
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
            f"{what} refused: {records.RunRef.of(active[0]).describe()} is still active",
            Refusal.ACTIVE_RUN,
            run_id=active[0].id,
        )
