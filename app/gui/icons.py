"""Icons from resources/icons, with a drawn fallback so a missing file never breaks a table."""

from __future__ import annotations

import functools

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from app.engine.vocabulary import ItemStatus, RunStatus
from app.paths import resource

APP_ICON_SIZES = (16, 32, 48, 64, 128, 256)
# Upgrade runs report "prepared" where deploy runs say "deployed"; they share an icon.
ALIASES: dict[str, str] = {ItemStatus.PREPARED: ItemStatus.DEPLOYED}
FALLBACK_COLORS: dict[str, str] = {
    ItemStatus.PENDING: "#9e9e9e",
    ItemStatus.DEPLOYING: "#1e88e5",
    RunStatus.RUNNING: "#1e88e5",
    ItemStatus.DEPLOYED: "#43a047",
    RunStatus.SUCCEEDED: "#43a047",
    ItemStatus.FAILED: "#e53935",
    ItemStatus.BLOCKED: "#fb8c00",
    ItemStatus.SKIPPED: "#bdbdbd",
    ItemStatus.CANCELLED: "#757575",
    RunStatus.INTERRUPTED: "#8e24aa",
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
