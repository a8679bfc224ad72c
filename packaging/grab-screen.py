"""Saves a picture of the whole X screen named by DISPLAY to a PNG file.

    DISPLAY=:5 XAUTHORITY=... .venv/bin/python packaging/grab-screen.py screen.png

run-demo uses it to show what the window looks like on a virtual screen (Xvfb) of a machine
without a display of its own. Exit 0 when the file was written, 1 with one line otherwise.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: grab-screen.py FILE.png", file=sys.stderr)
        return 2
    if not os.environ.get("DISPLAY"):
        print("grab-screen: DISPLAY names no X screen", file=sys.stderr)
        return 1
    os.environ["QT_QPA_PLATFORM"] = "xcb"  # the X screen itself, whatever the caller's default
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication([argv[0]])
    screen = app.primaryScreen()
    if screen is None or not screen.grabWindow(0).save(argv[1], "PNG"):
        print(f"grab-screen: could not save a picture of {os.environ['DISPLAY']} to {argv[1]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
