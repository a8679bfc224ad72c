"""Who and where: the names recorded on runs, locks and the audit log."""

from __future__ import annotations

import getpass
import os
import socket
from datetime import UTC, datetime


def host_name() -> str:
    return socket.gethostname()


def current_user() -> str:
    """``user@host`` of this process; ``DEPLOYCENTER_USER`` overrides it for CI jobs."""
    override = os.environ.get("DEPLOYCENTER_USER", "").strip()
    if override:
        return override
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{host_name()}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    """A timestamp as the JSON documents write it, to the second."""
    return value.isoformat(timespec="seconds") if value is not None else None


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # A killed child its parent has not reaped yet still answers kill(pid, 0).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
