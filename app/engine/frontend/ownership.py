"""Which environment owns a front-end, so that two environments never write into one.

Every front-end carries ``.deploycenter-owner`` at its root: the id of the environment that
writes there and where that environment's database is. A copy of a data dir keeps the
original's front-end paths and its id, but not its place, so the copy is refused the
original's front-ends; ``frontend adopt`` takes a front-end over on purpose.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.engine.errors import StateError
from app.engine.frontend.fanout import on_each
from app.engine.frontend.layout import OWNER_FILE
from app.engine.frontend.target import FrontendError, FrontendTarget

log = logging.getLogger(__name__)


class ForeignFrontendError(StateError):
    """A front-end belongs to another environment: nothing is written there (exit 4)."""


@dataclass(frozen=True)
class Owner:
    """An environment as a front-end's stamp names it."""

    uid: str  # the environment's id, kept in its database
    name: str  # its name, for messages
    database: str  # where its database is: the SQLite file, or the URL without its password

    def to_bytes(self) -> bytes:
        text = json.dumps({"environment": self.uid, "name": self.name, "database": self.database}, sort_keys=True)
        return (text + "\n").encode("utf-8")

    @classmethod
    def parse(cls, data: bytes) -> Owner | None:
        try:
            found = json.loads(data)
            return cls(str(found["environment"]), str(found.get("name", "")), str(found.get("database", "")))
        except (ValueError, KeyError, TypeError):
            return None

    def same_as(self, other: Owner) -> bool:
        return (self.uid, _server_database(self.database)) == (other.uid, _server_database(other.database))


# The user of a database URL: each operator may connect to the same database as their own role.
_URL_USER = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^@/]*@")


def _server_database(database: str) -> str:
    """Where a database is, whoever connects to it: a URL without its user."""
    return _URL_USER.sub(r"\1", database)


def claim(targets: Sequence[FrontendTarget], owner: Owner, hint: str | None = None) -> None:
    """Stamp unclaimed front-ends with ``owner``; refuse when one belongs to someone else.

    ``hint`` ends the refusal: what to do (by default, the ``frontend adopt`` command). A
    front-end that cannot be reached now is left to the run, which fails its modules naming it;
    it is claimed the next time it is reached.
    """
    stamps = _stamps(targets)
    refuse_foreign(targets, owner, hint, stamps)

    def stamp(target: FrontendTarget) -> None:
        try:
            target.write_owner(owner.to_bytes())
        except FrontendError as error:
            log.warning("%s", error)

    on_each([target for target in targets if target.location in stamps and stamps[target.location] is None], stamp)


def _stamps(targets: Sequence[FrontendTarget]) -> dict[str, bytes | None]:
    """Each reachable target's stamp, by location; the unreachable ones are left out. All at
    once: over the network the first call to each also connects to it."""

    def read(target: FrontendTarget) -> tuple[str, bytes | None] | None:
        try:
            return target.location, target.read_owner()
        except FrontendError as error:
            log.warning("ownership of %s not checked: %s", target.location, error)
            return None

    return dict(found for found in on_each(targets, read) if found is not None)


def refuse_foreign(
    targets: Sequence[FrontendTarget],
    owner: Owner | None,
    hint: str | None = None,
    stamps: dict[str, bytes | None] | None = None,
) -> None:
    """Refuse when a front-end is stamped by an environment other than ``owner`` (None: by any)."""
    read = _stamps(targets) if stamps is None else stamps
    for target in targets:
        stamp = read.get(target.location)
        if stamp is None:
            continue
        found = Owner.parse(stamp)
        if owner is None or found is None or not found.same_as(owner):
            advice = hint or f"If this environment should own it, run 'frontend adopt {target.name}'"
            raise ForeignFrontendError(
                f"front-end {target.name} ({target.location}) belongs to {_describe(found)}; nothing was "
                f"written there. {advice}"
            )


def adopt(target: FrontendTarget, owner: Owner) -> Owner | None:
    """Take a front-end over whoever owned it; returns the previous owner."""
    stamp = target.read_owner()
    target.write_owner(owner.to_bytes())
    return Owner.parse(stamp) if stamp is not None else None


def _describe(owner: Owner | None) -> str:
    if owner is None:
        return f"an environment whose stamp ({OWNER_FILE}) cannot be read"
    return f"environment '{owner.name}' (database {owner.database})"
