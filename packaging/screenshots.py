"""Screenshots of the three panes for the docs, from a throwaway demo environment.

    .venv/bin/python packaging/screenshots.py [--out docs/screenshots] [--sizes 1024x700,1600x1000]

Creates the demo (init --demo), upgrades it to 11.19.0 and runs a Deploy All in which one module
fails (a stray file in its front-end folder) so that the report shows failures and blocked
consumers; then opens the window and, for each size, saves upgrades-WxH.png, modules-WxH.png and
details-WxH.png (the failed module selected, its timeline and blocked consumers) with
QWidget.grab(). Without a display it renders offscreen. Settings go to the temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.engine.context import Location

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FAILING_MODULE = "Identity"  # Customers, Orders, Employees and more consume it: they are blocked


def build_demo(folder: Path) -> Location:
    from app.engine import operations
    from app.engine.context import Location

    location = Location(folder / "env")
    ctx = operations.init_environment(location, demo=True)
    try:
        operations.upgrade(ctx, "11.19.0")
        stray = location.data_dir / "frontends" / "default" / FAILING_MODULE / "notes.txt"
        stray.parent.mkdir(parents=True, exist_ok=True)
        stray.write_text("a file Deploy Center did not create\n", encoding="utf-8")
        operations.deploy_all(ctx)
    finally:
        ctx.close()
    return location


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--sizes", default="1024x700,1600x1000", help="comma-separated WIDTHxHEIGHT")
    options = parser.parse_args()
    sizes = [tuple(int(n) for n in size.split("x")) for size in options.sizes.split(",")]
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QSettings

    from app.gui.application import make_application
    from app.gui.main_window import MainWindow
    from app.gui.session import GuiSession
    from app.gui.welcome import open_environment

    with tempfile.TemporaryDirectory(prefix="deploycenter-shots-") as temp:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(Path(temp) / "settings"))
        location = build_demo(Path(temp))
        app = make_application([sys.argv[0]])
        session = GuiSession(open_environment(location))
        window = MainWindow(session)
        window.resize(*sizes[0])
        window.show()
        wait_for(app, session.snapshot_loaded, session.start)
        run_id = next(r.id for r in session.snapshot.runs if r.kind == "deploy-all")  # type: ignore[union-attr]
        options.out.mkdir(parents=True, exist_ok=True)
        window.modules.select("Orders")
        window.details.problems_only.setChecked(False)
        wait_for(app, session.jobs.finished, lambda: window.open_run(run_id))
        failed = next(n for n, row in enumerate(window.details.model.rows) if row.module == FAILING_MODULE)
        window.details.select_row(failed)
        window.details.views.setCurrentWidget(window.details.timeline)
        shots = {"upgrades": 0, "modules": 1, "details": 2}
        for width, height in sizes:
            window.resize(width, height)
            for name, pane in shots.items():
                window.show_pane(pane)
                settle(app)
                path = options.out / f"{name}-{width}x{height}.png"
                window.grab().save(str(path))
                print(path)
        window.close()
        session.close()
    return 0


def wait_for(app: Any, signal: Any, start: Any) -> None:
    """Start something and run the event loop until ``signal`` fires (at most 30 s)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(30_000, loop.quit)
    start()
    loop.exec()
    signal.disconnect(loop.quit)
    settle(app)


def settle(app: Any) -> None:
    """Let pending updates (coalesced counts, repaints) happen before grabbing."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(250, loop.quit)
    loop.exec()


if __name__ == "__main__":
    sys.exit(main())
