"""What each front-end of the farm runs, compared with the record: for the window's Front-ends
view and ``frontend list --check``.

Reads ``CURRENT`` of every live module on every front-end, one batched read per front-end (no
file is hashed: ``verify`` does that), so a look at a farm of thousands of modules stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.engine.context import EnvironmentContext
from app.engine.frontend.registry import Frontend, opened
from app.engine.frontend.target import FrontendError
from app.engine.lookup import frontends_of_session
from app.engine.store.models import ModuleRow


@dataclass(frozen=True)
class FrontendState:
    """One front-end as the farm view shows it."""

    frontend: Frontend
    reachable: bool
    problem: str | None  # why it is not reachable
    live: int  # modules running the recorded release there
    behind: int  # modules recorded as deployed that run something else there, or nothing
    extra: int  # modules live there that the record says are not deployed


@dataclass(frozen=True)
class FarmState:
    frontends: tuple[FrontendState, ...]
    disagreeing: frozenset[str]  # modules whose enabled, reachable front-ends run different releases


def farm_state(ctx: EnvironmentContext) -> FarmState:
    with ctx.db.read() as session:
        frontends = frontends_of_session(session)
        rows = session.execute(
            select(ModuleRow.name, ModuleRow.deployed_release).where(ModuleRow.deleted_at.is_(None))
        ).all()
        recorded: dict[str, str | None] = {name: release for name, release in rows}
    names = sorted(recorded)
    states = []
    seen: dict[str, set[str | None]] = {name: set() for name in names}
    with opened(frontends) as targets:
        by_key = {frontend.key: target for frontend, target in zip(_distinct(frontends), targets, strict=True)}
        for frontend in frontends:
            target = by_key[frontend.key]
            try:
                target.check()
                live = target.read_current(names)
            except FrontendError as error:
                states.append(FrontendState(frontend, False, str(error), 0, 0, 0))
                continue
            if frontend.enabled:
                for name in names:
                    seen[name].add(live.get(name))
            states.append(
                FrontendState(
                    frontend,
                    True,
                    None,
                    sum(1 for name in names if recorded[name] is not None and live.get(name) == recorded[name]),
                    sum(1 for name in names if recorded[name] is not None and live.get(name) != recorded[name]),
                    sum(1 for name in names if recorded[name] is None and live.get(name) is not None),
                )
            )
    disagreeing = frozenset(name for name, releases in seen.items() if len(releases) > 1)
    return FarmState(tuple(states), disagreeing)


def _distinct(frontends: list[Frontend]) -> list[Frontend]:
    """The front-ends ``opened`` makes targets for, in its order: one per distinct folder."""
    found: dict[str, Frontend] = {}
    for frontend in frontends:
        found.setdefault(frontend.key, frontend)
    return list(found.values())
