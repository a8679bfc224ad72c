"""Windows and dialogs made, dropped, and the process ends cleanly (no double delete at exit)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.engine.context import Location
from tests.conftest import REPO, child_env

SCRIPT = """
import gc, sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from app.engine.context import Location
from app.gui.main_window import MainWindow
from app.gui.session import GuiSession
from app.gui.welcome import WelcomeDialog, open_environment

app = QApplication([])
dialog = WelcomeDialog(Location(Path(sys.argv[1]) / "none"))
dialog.show()
app.processEvents()
del dialog
session = GuiSession(open_environment(Location(Path(sys.argv[1]))))
window = MainWindow(session)
window.show()
app.processEvents()
window.close()
del window, session
gc.collect()
print("closed")
"""


def test_the_process_exits_cleanly_after_the_welcome_dialog_and_the_window(location: Location) -> None:
    env = child_env()
    env["QT_QPA_PLATFORM"] = "offscreen"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(location.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "closed"), done.stderr[-2000:]
    assert Path(location.data_dir).is_dir()
