"""What may name a module or application, and what a front-end on Windows cannot hold.

Kept apart from ``bundle`` so that the front-end layout can check names without the bundle reader.
"""

from __future__ import annotations

import re

# \Z, not $: "$" also matches before a final newline, which would let "Orders\n" through.
NAME_PATTERN = re.compile(r"\A[A-Za-z][A-Za-z0-9_.-]{0,63}\Z")
NAME_RULE = "1-64 letters, digits, '_', '-' or '.', starting with a letter"

# Names Windows gives to devices, with or without an extension ("nul.txt" is NUL too); a
# front-end on Windows cannot hold a file or folder with such a name, nor one ending in '.' or ' '.
WINDOWS_DEVICE_NAMES = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"{port}{digit}" for port in ("com", "lpt") for digit in "123456789\u00b9\u00b2\u00b3"}
)
_WINDOWS_FORBIDDEN_CHARACTERS = frozenset('<>:"|?*\\') | {chr(code) for code in range(32)}


def is_valid_name(name: str) -> bool:
    """Whether ``name`` may name a module or application (the whole string, nothing after it)."""
    return NAME_PATTERN.fullmatch(name) is not None


def windows_name_problem(component: str) -> str | None:
    """Why a Windows front-end cannot hold a file or folder named ``component``, or None."""
    if component.endswith((".", " ")):
        return "ends in a dot or a space"
    if any(character in _WINDOWS_FORBIDDEN_CHARACTERS for character in component):
        return "contains a character Windows does not allow in file names"
    if component.split(".", 1)[0].rstrip(" ").casefold() in WINDOWS_DEVICE_NAMES:
        return "is a device name on Windows"
    return None
