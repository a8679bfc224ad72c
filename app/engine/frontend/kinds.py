"""The kinds of front-end, and the one table that says how each is parsed, named, prepared and opened.

A front-end TARGET is text a user gives (``frontend add NAME TARGET``, ``init --frontend``); its
kind decides everything else about it. Each kind has a driver in its own folder
(``local/kind.py``, ``ssh/kind.py``), and ``DRIVERS`` picks the driver for a kind, so that no
other module of the engine tells kinds apart. Adding a kind of front-end is its folder (a
driver and a ``FrontendTarget``), one entry in ``FrontendKind`` and ``DRIVERS``, and passing the
contract suite every target passes (``tests/engine/frontend/test_target_contract.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from app.engine.errors import BadInputError
from app.engine.frontend.feeding import Feeding
from app.engine.frontend.local.kind import LocalKind
from app.engine.frontend.ssh.kind import SshKind

if TYPE_CHECKING:
    from app.engine.frontend.target import FrontendTarget

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class FrontendKind(StrEnum):
    """Where a front-end's folder is: on this machine, or on another one reached over SSH."""

    LOCAL = "local"
    SSH = "ssh"

    @property
    def driver(self) -> FrontendDriver:
        return DRIVERS[self]


class FrontendDriver(Protocol):
    """What the engine needs to know about one kind of front-end; ``location`` is a checked TARGET."""

    @property
    def scheme(self) -> str | None:
        """The ``scheme://`` its TARGETs start with; None for the kind whose TARGET is a plain folder."""

    @property
    def remote(self) -> bool:
        """Reached over the network: an environment checks it can reach it before creating anything."""

    def parse(self, text: str) -> str:
        """The TARGET checked, in the one spelling it is stored under; ``BadInputError`` names what is wrong."""

    def key(self, location: str) -> str:
        """One spelling per front-end, so that one given twice (through a link, say) is recognised."""

    def label(self, location: str) -> str:
        """A name for the front-end when the user gives none: its folder's name, or its host."""

    def check(self, location: str) -> None:
        """Refuse what can be refused before anything is created or written (``BadInputError``)."""

    def prepare(self, location: str) -> None:
        """Make it ready for its first use (a local folder is created); after ``check``."""

    def open(self, name: str, location: str) -> FrontendTarget:
        """A new target for it; the caller closes it."""

    @property
    def feeding(self) -> Feeding:
        """How a run hands it modules: batch sizes, worker processes, flushes."""


DRIVERS: dict[FrontendKind, FrontendDriver] = {
    FrontendKind.LOCAL: LocalKind(),
    FrontendKind.SSH: SshKind(),
}


def parse_target(text: str) -> tuple[FrontendKind, str]:
    """A TARGET's kind and its stored spelling; a scheme no kind has, or an empty target, is bad input."""
    scheme = _SCHEME.match(text)
    wanted = scheme.group(1).lower() if scheme else None
    for kind, driver in DRIVERS.items():
        if driver.scheme == wanted:
            return kind, driver.parse(text)
    known = ", ".join(f"{d.scheme}://" for d in DRIVERS.values() if d.scheme)
    raise BadInputError(f"front-end target {text!r}: unknown scheme {wanted!r}; use a folder or {known}")


def feeding_of(kinds: Iterable[FrontendKind]) -> Feeding:
    """How a run feeds front-ends of these kinds together: the biggest batch any of them wants
    (a batch costs the farm its slowest front-end's fixed costs), the fewest batches per worker,
    worker processes only where every kind allows them. The local kind's when there are none."""
    feedings = [kind.driver.feeding for kind in set(kinds)] or [FrontendKind.LOCAL.driver.feeding]
    return Feeding(
        batch=max(feeding.batch for feeding in feedings),
        spread=min(feeding.spread for feeding in feedings),
        worker_processes=all(feeding.worker_processes for feeding in feedings),
        durable_per_batch=any(feeding.durable_per_batch for feeding in feedings),
    )
