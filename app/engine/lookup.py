"""Finding what users name: modules by name or application, and the environment's front-ends."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine.context import EnvironmentContext
from app.engine.errors import BadInputError
from app.engine.frontend.kinds import FrontendKind
from app.engine.frontend.ownership import Owner
from app.engine.frontend.registry import Frontend
from app.engine.store.models import EnvironmentRow, FrontendRow, ModuleRow


def find_module(session: Session, name: str) -> ModuleRow:
    """The live module called ``name`` (any case); an unknown one is bad input."""
    module = session.scalars(
        select(ModuleRow).where(ModuleRow.name_key == name.casefold(), ModuleRow.deleted_at.is_(None))
    ).first()
    if module is None:
        raise BadInputError(f"unknown module '{name}'")
    return module


def resolve_modules(ctx: EnvironmentContext, names: Sequence[str] = (), application: str | None = None) -> list[int]:
    """Module ids for names or an application; unknown ones are bad input."""
    with ctx.db.read() as session:
        if application is not None:
            ids = list(
                session.scalars(
                    select(ModuleRow.id).where(
                        func.lower(ModuleRow.application) == application.casefold(), ModuleRow.deleted_at.is_(None)
                    )
                )
            )
            if not ids:
                raise BadInputError(f"unknown application '{application}'")
            return ids
        if not names:
            raise BadInputError("name at least one module, or an application with --app")
        return [find_module(session, name).id for name in names]


def owner(ctx: EnvironmentContext, env: EnvironmentRow) -> Owner:
    """This environment as the stamps on its front-ends name it."""
    return Owner(env.uid or f"environment-{env.id}", env.name, ctx.db.file_or_url())


def frontends_of_session(session: Session) -> list[Frontend]:
    return [frontend_of_row(row) for row in session.scalars(select(FrontendRow).order_by(FrontendRow.id))]


def frontend_of_row(row: FrontendRow) -> Frontend:
    """A recorded front-end as the plain value runs and worker processes are handed."""
    return Frontend(
        row.id,
        row.name,
        row.location,
        FrontendKind(row.kind),
        row.enabled,
        row.health_cmd,
        row.drain_cmd,
        row.undrain_cmd,
        row.health_url,
        row.health_timeout,
        row.drained_by_run,
    )
