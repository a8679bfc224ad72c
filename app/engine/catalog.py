"""The platform catalog: the platform versions Deploy Center knows and what each offers.

A module compiles for a platform version only if every capability it ``uses`` is in that
version's set, so the catalog is what makes an upgrade break a module (e.g. ``soap.legacy``
is gone from 11.19.0 on). The catalog ships as ``resources/catalog.json``.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from app.engine.errors import BadInputError
from app.paths import resource

DEFAULT_PLATFORM = "11.18.1"


@dataclass(frozen=True)
class PlatformVersion:
    """One platform release: its version, release date (ISO) and capability names."""

    version: str
    released: str
    capabilities: frozenset[str]


def parse_version(text: str) -> Version:
    """A platform version as a comparable value; malformed text is bad input."""
    try:
        return Version(text)
    except InvalidVersion:
        raise BadInputError(f"'{text}' is not a valid platform version") from None


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as version ``a`` is older than, equal to or newer than ``b``."""
    left, right = parse_version(a), parse_version(b)
    return (left > right) - (left < right)


@dataclass(frozen=True, init=False)
class Catalog:
    """The known platform versions, oldest first."""

    versions: tuple[PlatformVersion, ...]

    def __init__(self, versions: Iterable[PlatformVersion]) -> None:
        ordered = tuple(sorted(versions, key=lambda entry: Version(entry.version)))
        if not ordered:
            raise ValueError("a platform catalog needs at least one version")
        _reject_duplicates(ordered)
        object.__setattr__(self, "versions", ordered)

    def get(self, version: str) -> PlatformVersion:
        """The entry for ``version``; unknown or malformed versions are bad input."""
        wanted = _try_version(version)
        for entry in self.versions:
            if Version(entry.version) == wanted:
                return entry
        known = ", ".join(entry.version for entry in self.versions)
        raise BadInputError(f"unknown platform version '{version}'; known: {known}")

    def newer_than(self, version: str) -> tuple[PlatformVersion, ...]:
        """The versions an environment on ``version`` could upgrade to, oldest first."""
        floor = parse_version(version)
        return tuple(entry for entry in self.versions if Version(entry.version) > floor)

    def latest(self) -> PlatformVersion:
        return self.versions[-1]


def load_catalog(path: Path | None = None) -> Catalog:
    """The catalog in ``path``, or the shipped one (read once per process)."""
    if path is None:
        return _shipped_catalog()
    return _read_catalog(path)


@functools.lru_cache(maxsize=1)
def _shipped_catalog() -> Catalog:
    return _read_catalog(resource("catalog.json"))


def _read_catalog(path: Path) -> Catalog:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return Catalog(_entry(raw) for raw in document["versions"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"cannot read the platform catalog {path}: {exc}") from exc


def _entry(raw: dict[str, Any]) -> PlatformVersion:
    version = str(raw["version"])
    Version(version)  # raises InvalidVersion (a ValueError) for a malformed entry
    capabilities = raw["capabilities"]
    if not isinstance(capabilities, list) or not all(isinstance(c, str) for c in capabilities):
        raise ValueError(f"capabilities of {version} must be a list of names")
    return PlatformVersion(version, str(raw["released"]), frozenset(capabilities))


def _reject_duplicates(ordered: tuple[PlatformVersion, ...]) -> None:
    for older, newer in itertools.pairwise(ordered):
        if Version(older.version) == Version(newer.version):
            raise ValueError(f"platform version {newer.version} is listed twice")


def _try_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None
