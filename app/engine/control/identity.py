"""Who approves: an identity that someone cannot simply claim.

On PostgreSQL it is the database role the process connected as: each operator connects as their
own role, so only the database's own authentication says who they are. On SQLite, whose file
anyone with access may open, it is the login name (as ``getpass.getuser()`` gives it) and the
host. ``DEPLOYCENTER_USER`` names who started a run, for display only; it never counts here.
"""

from __future__ import annotations

import getpass
import os

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.engine.identity import host_name


def approver(session: Session) -> str:
    """The identity of whoever runs this process against this database."""
    if session.get_bind().dialect.name == "postgresql":
        return str(session.scalar(text("SELECT current_user")))
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    return f"{user}@{host_name()}"
