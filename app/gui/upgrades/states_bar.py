"""A picture of the upgrade: one bar split by module state, deployed first, failures last."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.engine.vocabulary import ModuleState
from app.gui.formatting import STATE_LABELS, plural

# The status icons' colours: deployed green, ready to deploy blue, failed orange, not prepared grey.
SEGMENTS: tuple[tuple[str, str], ...] = (
    (ModuleState.DEPLOYED, "#009e73"),
    (ModuleState.READY, "#0072b2"),
    (ModuleState.NOT_PREPARED, "#7c8591"),
    (ModuleState.COMPILATION_FAILED, "#d55e00"),
)
BAR_HEIGHT = 14


class StatesBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Module states")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.counts: dict[str, int] = {}

    def sizeHint(self) -> QSize:
        return QSize(400, BAR_HEIGHT + 4)

    def set_counts(self, counts: Mapping[str, int]) -> None:
        self.counts = {state: counts.get(state, 0) for state, _ in SEGMENTS}
        parts = [f"{plural(n, 'module')}: {STATE_LABELS[state].lower()}" for state, n in self.counts.items() if n]
        self.setToolTip("\n".join(parts))
        self.setAccessibleDescription(", ".join(parts))
        self.update()

    def segment(self, state: str) -> QRectF:
        """Where ``state`` is drawn (empty when no module is in it)."""
        total = sum(self.counts.values())
        left, width = 0.0, float(self.width())
        for each, _ in SEGMENTS:
            share = width * self.counts.get(each, 0) / total if total else 0.0
            if each == state:
                return QRectF(left, 2, share, BAR_HEIGHT)
            left += share
        return QRectF()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(QRectF(0, 2, self.width(), BAR_HEIGHT), self.palette().midlight())
        for state, colour in SEGMENTS:
            rect = self.segment(state)
            if rect.width() > 0:
                painter.fillRect(rect, QColor(colour))
        painter.setPen(self.palette().mid().color())
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(QRectF(0, 2, self.width() - 1, BAR_HEIGHT))
        painter.end()
