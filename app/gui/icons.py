"""Icons from resources/icons, with a drawn fallback so a missing file never breaks a table."""

from __future__ import annotations

import functools

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from app.paths import resource

APP_ICON_SIZES = (16, 32, 48, 64, 128, 256)
# Upgrade runs report "prepared" where deploy runs say "deployed"; they share an icon.
ALIASES = {"prepared": "deployed"}
FALLBACK_COLORS = {
    "pending": "#9e9e9e", "deploying": "#1e88e5", "running": "#1e88e5", "deployed": "#43a047",
    "succeeded": "#43a047", "failed": "#e53935", "blocked": "#fb8c00", "skipped": "#bdbdbd",
    "cancelled": "#757575", "interrupted": "#8e24aa",
}


@functools.cache
def status_icon(status: str) -> QIcon:
    name = ALIASES.get(status, status)
    icon = QIcon()
    for size in (16, 32):
        path = resource("icons", f"{name}-{size}.png")
        if path.is_file():
            icon.addFile(str(path), QSize(size, size))
    svg = resource("icons", f"{name}.svg")
    if icon.isNull() and svg.is_file():
        icon.addFile(str(svg))
    return icon if not icon.isNull() else _dot(FALLBACK_COLORS.get(name, "#9e9e9e"))


@functools.cache
def app_icon() -> QIcon:
    icon = QIcon()
    for size in APP_ICON_SIZES:
        path = resource("icons", f"deploycenter-{size}.png")
        if path.is_file():
            icon.addFile(str(path), QSize(size, size))
    return icon if not icon.isNull() else _dot("#1e88e5")


def _dot(color: str) -> QIcon:
    pixmap = QPixmap(16, 16)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(color))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(2, 2, 12, 12)
    painter.end()
    return QIcon(pixmap)
