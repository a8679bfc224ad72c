"""What the window remembers between launches: its size, position and pane, and the data folder.

The data folder chosen in the welcome dialog is opened again next time, unless ``--data-dir``,
``--database-url`` or their environment variables say otherwise. Database URLs are not kept:
they may hold a password, and a secret is stored only in the database and the front-ends.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QSettings

from app.engine.context import Location

ORGANIZATION = "deploycenter"
APPLICATION = "deploycenter"
DATA_FOLDER_KEY = "environment/data_folder"


def app_settings() -> QSettings:
    """An INI file in the user's config folder; tests move it with ``QSettings.setPath``."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def remember_location(location: Location) -> None:
    """The environment just opened or created; only a data folder with its own database is kept."""
    if location.uses_default_database:
        settings = app_settings()
        settings.setValue(DATA_FOLDER_KEY, str(location.data_dir))
        settings.sync()


def remembered_location(
    data_dir: str | None,
    database_url: str | None,
    environ: Mapping[str, str] = os.environ,
) -> Location:
    """What the window opens: the options, else their variables, else the remembered folder, else the default."""
    folder = data_dir or environ.get("DEPLOYCENTER_DATA_DIR") or None
    url = database_url or environ.get("DEPLOYCENTER_DATABASE_URL") or None
    if folder is None and url is None:
        saved = str(app_settings().value(DATA_FOLDER_KEY, "") or "")
        if saved and Path(saved).is_absolute():
            return Location(Path(saved))
    return Location.from_options(folder, url)
