"""The front-end layout (rules.md#layout), as names and small pure rules::

    <front-end>/<module>/releases/<release-id>/              complete content; never changed once live
    <front-end>/<module>/releases/<release-id>/.release.json
    <front-end>/<module>/CURRENT                              the live release id; replaced atomically
    <front-end>/<module>/config.json                          applied configuration; replaced atomically

Every target, local or remote, writes exactly this, and names its hidden work files as below so
that any target recognises another's leftovers as Deploy Center's own.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.engine.names import is_valid_name, windows_name_problem

RELEASES = "releases"
CURRENT = "CURRENT"
CONFIG = "config.json"
RELEASE_INFO = ".release.json"
STAGING_PREFIX = ".staging-"  # releases/.staging-<id>-<pid>-<hex>: a release being written or deleted
TEMP_PREFIXES = (f".{CURRENT}.tmp-", f".{CONFIG}.tmp-")  # the next CURRENT or config.json
OWN_NAMES = frozenset({RELEASES, CURRENT, CONFIG})
# Exactly the work names above as the deployer makes them (``files.temp_name_for``, the staging
# and discarding names): a leftover of an interrupted call is recognised by these, and nothing
# else found in a module folder is ever taken for one.
_WORK_FILE = re.compile(rf"\.(?:{re.escape(CURRENT)}|{re.escape(CONFIG)})\.tmp-[0-9a-f]{{12}}")
_STAGING = re.compile(rf"{re.escape(STAGING_PREFIX)}[A-Za-z0-9._+@,=-]+-[0-9]+-[0-9a-f]{{8}}")
OWNER_FILE = ".deploycenter-owner"  # at the front-end's root: the environment that writes there (ownership)


def release_id_for(version: int, platform: str, artifact_sha256: str) -> str:
    """A deterministic, filesystem-safe release folder name, e.g. ``v3-11.19.0-1a2b3c4d5e6f``."""
    safe_platform = re.sub(r"[^A-Za-z0-9._-]", "_", platform)
    return f"v{version}-{safe_platform}-{artifact_sha256[:12]}"


def is_module_name(module: str) -> bool:
    """Whether ``module`` may be a module's folder on every kind of front-end."""
    return is_valid_name(module) and not windows_name_problem(module)


def check_module_name(module: str) -> None:
    """Names are validated when published; checked again because they become folder names here."""
    if not is_module_name(module):
        raise ValueError(f"not a valid module name: {module!r}")


def is_work_file_name(name: str) -> bool:
    """A next ``CURRENT`` or ``config.json`` written under its temp name, in a module folder."""
    return _WORK_FILE.fullmatch(name) is not None


def is_staging_name(name: str) -> bool:
    """A release being written or deleted under its staging name, in a ``releases`` folder."""
    return _STAGING.fullmatch(name) is not None


def is_leftover_path(path: str) -> bool:
    """A work file or staging folder, given relative to its module folder (``releases/...`` for one)."""
    folder, _, name = path.rpartition("/")
    return is_staging_name(name) if folder == RELEASES else folder == "" and is_work_file_name(name)


def is_release_name(name: str) -> bool:
    return bool(name) and not name.startswith(".") and "/" not in name and "\\" not in name


def current_bytes(release: str | None) -> bytes | None:
    """The content of ``CURRENT`` naming ``release``; None for no file."""
    return None if release is None else f"{release}\n".encode("ascii")


def parse_current(data: bytes) -> str | None:
    return data.decode("utf-8", "replace").strip() or None


def parse_release_info(data: bytes) -> dict[str, Any] | None:
    """A parsed ``.release.json``, or None when it is not one (unreadable, or no ``files`` map)."""
    try:
        info = json.loads(data)
    except ValueError:
        return None
    if not isinstance(info, dict) or not isinstance(info.get("files"), dict):
        return None
    return info


def release_info_bytes(module: str, version: int, platform: str, artifact_sha256: str, files: dict[str, str]) -> bytes:
    """``.release.json`` on one line: json's C encoder does not indent, and programs read this file."""
    info = {
        "module": module,
        "version": version,
        "platform": platform,
        "artifact_sha256": artifact_sha256,
        "files": files,
    }
    return (json.dumps(info, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
