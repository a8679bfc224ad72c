"""Render the PNG sizes of every SVG icon in this folder.

The SVG files are the sources; the PNGs are committed so the GUI and the desktop entry need no
SVG support at run time. Re-run after editing an SVG:

    .venv/bin/python resources/icons/render.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICON_DIR = Path(__file__).resolve().parent
APP_ICON = "deploycenter"
APP_SIZES = (16, 32, 48, 64, 128, 256)
STATUS_SIZES = (16, 32)


def render(svg: Path, size: int, target: Path) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg.name} is not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    if not image.save(str(target), "PNG"):
        raise OSError(f"cannot write {target}")


def main() -> int:
    # No display is needed to rasterise; this also works on CI machines and over SSH.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([])
    for svg in sorted(ICON_DIR.glob("*.svg")):
        sizes = APP_SIZES if svg.stem == APP_ICON else STATUS_SIZES
        for size in sizes:
            target = ICON_DIR / f"{svg.stem}-{size}.png"
            render(svg, size, target)
            print(target.relative_to(ICON_DIR))
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
