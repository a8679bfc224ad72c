"""Before Qt is loaded: is there a display, and can Qt's libraries load? One clear line if not.

Without these checks Qt aborts the process with a core dump (no display, or a missing xcb
library) or Python prints a traceback (a missing libEGL); neither tells the user what to do.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path

DEBIAN_PACKAGES = (
    "libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 "
    "libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-shape0"
)
HEADLESS_HINT = "use 'deploycenter --unattended COMMAND' to work without a window"
XCB_CURSOR = "libxcb-cursor.so.0"  # Qt loads it itself at start-up and aborts when it is missing


def display_problem(env: Mapping[str, str], platform: str | None = None) -> str | None:
    """Why no window can open here, or None. Only Linux needs a display server to be named."""
    if not (platform or sys.platform).startswith("linux"):
        return None
    requested = env.get("QT_QPA_PLATFORM", "").split(":")[0]
    if requested and requested not in ("xcb", "wayland", "wayland-egl"):
        return None  # offscreen, vnc, eglfs...: the user chose a platform that needs no display
    if requested.startswith("wayland"):
        return None if env.get("WAYLAND_DISPLAY") else "no Wayland display (WAYLAND_DISPLAY is not set)"
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return f"cannot open the window: there is no display (DISPLAY is not set); {HEADLESS_HINT}"
    if env.get("DISPLAY") and (requested == "xcb" or not env.get("WAYLAND_DISPLAY")):
        return _xcb_problem(env["DISPLAY"])
    return None


def _xcb_problem(display: str) -> str | None:
    missing = _missing_library(_xcb_plugin()) or _missing_library(XCB_CURSOR)
    if missing is not None:
        return (
            f"cannot open the window: a library Qt needs is missing ({missing}); install the Debian "
            f"packages {DEBIAN_PACKAGES}, or {HEADLESS_HINT}"
        )
    if not _x_server_answers(display):
        return f"cannot open the window: the X display {display} does not answer; {HEADLESS_HINT}"
    return None


def _x_server_answers(display: str) -> bool:
    """Connect and disconnect with libxcb, as Qt would; Qt itself aborts when this fails."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # cannot tell; let Qt try
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return bool(xcb.xcb_connection_has_error(connection) == 0)
    finally:
        xcb.xcb_disconnect(connection)


def _xcb_plugin() -> str | None:
    spec = importlib.util.find_spec("PySide6")  # locates the package without importing Qt
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return str(plugin) if plugin.is_file() else None


def _missing_library(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        ctypes.CDLL(name)
    except OSError as error:
        return str(error).split(":")[0] if "cannot open shared object" in str(error) else str(error)
    return None


def qt_import_problem() -> str | None:
    """Import Qt's widgets; a missing system library becomes one line naming what to install."""
    try:
        import PySide6.QtWidgets  # noqa: F401
    except ImportError as error:
        return f"cannot load Qt ({error}); install the Debian packages {DEBIAN_PACKAGES}, or {HEADLESS_HINT}"
    return None
