"""Where an environment lives: its data folder, database, artifact store and catalog."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.engine.errors import StateError
from app.engine.store.sqlite_file import default_url

if TYPE_CHECKING:  # imported by open_context: a Location alone needs no SQLAlchemy (quick status)
    from app.engine.artifacts import ArtifactStore
    from app.engine.catalog import Catalog
    from app.engine.store.database import Database

DATA_DIR_MODE = 0o700


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("deploycenter", appauthor=False))


@dataclass(frozen=True)
class Location:
    """What the user pointed at: a data folder and, optionally, another database."""

    data_dir: Path
    database_url: str | None = None

    @classmethod
    def from_options(cls, data_dir: str | None, database_url: str | None) -> Location:
        folder = data_dir or os.environ.get("DEPLOYCENTER_DATA_DIR") or ""
        url = database_url or os.environ.get("DEPLOYCENTER_DATABASE_URL") or None
        path = Path(folder).expanduser() if folder else default_data_dir()
        return cls(path.absolute(), url)

    @property
    def url(self) -> str:
        return self.database_url or default_url(self.data_dir)

    @property
    def uses_default_database(self) -> bool:
        return self.database_url is None


@dataclass
class EnvironmentContext:
    """An opened environment; shared by threads (each opens its own sessions from ``db``)."""

    location: Location
    db: Database
    artifacts: ArtifactStore
    catalog: Catalog

    @property
    def data_dir(self) -> Path:
        return self.location.data_dir

    def close(self) -> None:
        self.db.dispose()


def open_context(location: Location, *, create: bool = False) -> EnvironmentContext:
    """Open the database (migrating it) without requiring an environment row yet.

    ``create`` makes the data folder, the database and its schema when they are missing. Without
    it, any of them missing is a ``StateError`` and nothing is made: a typo in ``--data-dir`` does
    not silently start a new environment, and a window that finds no environment leaves the
    folder as it was until the user chooses what to make there.
    """
    folder = location.data_dir
    if folder.exists() and not folder.is_dir():
        raise StateError(f"data dir {folder} is a file, not a folder")
    if not folder.exists():
        if not create:
            raise StateError(f"no environment at {folder} (the folder does not exist); run 'init' first")
        make_data_dir(folder)
    elif create and not os.access(folder, os.W_OK):
        raise StateError(
            f"cannot create an environment in {folder}: the folder is read-only; "
            "make it writable or choose another with --data-dir"
        )
    from app.engine.artifacts import ArtifactStore
    from app.engine.catalog import load_catalog
    from app.engine.store.database import Database
    from app.engine.store.migrate import upgrade_schema

    db = Database(location.url, create=create)
    try:
        upgrade_schema(db, create=create)
    except Exception:
        db.dispose()
        raise
    ctx = EnvironmentContext(location, db, ArtifactStore(folder / "artifacts"), load_catalog())
    from app.engine.metrics import rewrite_after_runs

    rewrite_after_runs(ctx)  # whichever front-end runs them, runs that end rewrite the metrics file
    return ctx


def make_data_dir(folder: Path) -> None:
    """Create the data dir readable by its owner only (rules.md#secrets); the folders above it as usual."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=DATA_DIR_MODE)
    except FileExistsError:
        if not folder.is_dir():
            raise StateError(f"data dir {folder} is a file, not a folder") from None
    except OSError as exc:
        where = exc.filename or folder
        raise StateError(
            f"cannot create the data dir {folder}: {where}: {exc.strerror}; "
            "choose a folder this user can write to with --data-dir"
        ) from None
