"""Choosing the bundles to publish: .zip files, or the module.toml of a bundle folder.

A folder is a bundle only with ``module.toml`` at its root, and a file dialog cannot pick a
folder and files at once: so the dialog lists .zip files and module.toml files, and a line under
the list says what the folder entered (or highlighted) is, so that a folder without
``module.toml`` is explained when it is picked instead of just showing nothing to choose.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QGridLayout, QLabel, QWidget

from app.engine.manifest import MANIFEST_NAME as MANIFEST

TITLE = "Publish new version: choose .zip bundles, or a bundle folder's module.toml"
FILTERS = ("Module bundles (*.zip module.toml)", "All files (*)")
WHAT_A_BUNDLE_IS = f"A module bundle is a folder with {MANIFEST} at its root, or a .zip of one."


def folder_hint(folder: Path, highlighted: bool = False) -> str:
    """What ``folder`` is as a bundle, said when it is entered (or highlighted in the list)."""
    if (folder / MANIFEST).is_file():
        if highlighted:
            return f"{folder.name} is a module bundle: open it and choose {MANIFEST} to publish it."
        return f"This folder is a module bundle: choose {MANIFEST} to publish it."
    if highlighted:
        return f"{folder.name} has no {MANIFEST}, so it is not a module bundle. {WHAT_A_BUNDLE_IS}"
    try:
        inside = list(folder.iterdir())
    except OSError as error:
        return f"{folder} cannot be read: {error.strerror or error}."
    bundles = [p for p in inside if p.suffix.lower() == ".zip" or (p / MANIFEST).is_file()]
    if bundles:
        return f"This folder holds {len(bundles)} bundle(s): choose .zip files, or open a folder and choose {MANIFEST}."
    return f"This folder has no {MANIFEST}, so it is not a module bundle, and holds none. {WHAT_A_BUNDLE_IS}"


class BundleDialog(QFileDialog):
    """Qt's own file dialog (a native one has no room for the hint), several files at once."""

    def __init__(self, parent: QWidget | None = None, start: str = "") -> None:
        super().__init__(parent, TITLE, start)
        self.setOption(QFileDialog.Option.DontUseNativeDialog)
        self.setFileMode(QFileDialog.FileMode.ExistingFiles)
        self.setNameFilters(list(FILTERS))
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setAccessibleName("What the folder holds")
        grid = self.layout()
        if isinstance(grid, QGridLayout):  # Qt's own dialog is a grid: the hint goes under it
            grid.addWidget(self.hint, grid.rowCount(), 0, 1, grid.columnCount())
        self.directoryEntered.connect(self._entered)
        self.currentChanged.connect(self._highlighted)
        self._entered(self.directory().absolutePath())

    def _entered(self, folder: str) -> None:
        self.hint.setText(folder_hint(Path(folder)))

    def _highlighted(self, path: str) -> None:
        chosen = Path(path)
        if chosen.is_dir():
            self.hint.setText(folder_hint(chosen, highlighted=True))
        else:
            self._entered(str(chosen.parent))

    def chosen(self) -> list[Path]:
        return [Path(path) for path in self.selectedFiles()]
