"""Where the product's bundled resources (catalog, demo modules, icons) live.

The same ``resources/`` tree ships three ways, and each puts it somewhere else:

* a source checkout: ``<repo>/resources``, next to the ``app`` package;
* an installed wheel: inside the package as ``app/_resources`` (see ``pyproject.toml``);
* a PyInstaller bundle: ``<sys._MEIPASS>/resources`` (the spec adds it as data).

Nothing is looked up at import time; callers ask when they need a file.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _candidates() -> list[Path]:
    """The places the resources may be, most specific first."""
    found: list[Path] = []
    bundle_root = getattr(sys, "_MEIPASS", None)
    if bundle_root is not None:
        found.append(Path(bundle_root) / "resources")
    found.append(_PACKAGE_DIR / "_resources")
    found.append(_PACKAGE_DIR.parent / "resources")
    return found


def resources_dir() -> Path:
    """The top-level resources folder; raises ``FileNotFoundError`` naming the places tried."""
    candidates = _candidates()
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    tried = ", ".join(str(path) for path in candidates)
    raise FileNotFoundError(f"the Deploy Center resources folder is missing; looked in: {tried}")


def resource(*parts: str) -> Path:
    """A path inside the resources folder, e.g. ``resource("icons", "deployed.svg")``."""
    return resources_dir().joinpath(*parts)
