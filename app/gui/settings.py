"""Where the window remembers its size, position and pane between launches."""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION = "deploycenter"
APPLICATION = "deploycenter"


def app_settings() -> QSettings:
    """An INI file in the user's config folder; tests move it with ``QSettings.setPath``."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
