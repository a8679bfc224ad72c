"""The newest migration of this release, read from the scripts' own lines without Alembic.

Every command checks that the database is at this revision before it reads anything; reading
four short files is cheap, and needs neither Alembic nor SQLAlchemy.
"""

from __future__ import annotations

import re
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_REVISION = re.compile(r"^revision\s*(?::[^=\n]*)?=\s*['\"]([^'\"\n]+)['\"]\s*$", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.M)
_QUOTED = re.compile(r"^['\"]([^'\"]+)['\"]$")


def head_from_scripts() -> str | None:
    """The head of a linear chain of migration scripts, or None when unsure (Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        revision = _REVISION.findall(text)
        down = _DOWN_REVISION.findall(text)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0] != "None":
            parent = _QUOTED.match(down[0])
            if parent is None:
                return None  # a merge (tuple) or something computed: not a simple chain
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None
