"""Comparing what front-ends run with what the environment records (``verify``, rules.md#verify).

Each drift names its front-end, its module, the problem in full and its cause: the kind of problem
without what differs from one module to the next, so that one fact (a front-end down, a folder
gone) reads as one group however many modules it touches (``group_drift``).

Work files an interrupted call left in a module folder (``FrontendTarget.list_leftovers``) are
drift of their own kind, named by ``LEFTOVER``: nothing serves them, but they take room and say
that something stopped half-way there. ``prune`` removes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from app.engine.frontend.layout import RELEASE_INFO
from app.engine.frontend.target import FrontendError, FrontendTarget, LiveRelease

LEFTOVER = "leftover from an interrupted run"


@dataclass(frozen=True)
class Drift:
    """One difference between a front-end and what the environment expects there."""

    frontend: str
    module: str
    problem: str
    # The problem's kind, shared by every module it touches; empty: the problem itself.
    cause: str = field(default="", compare=False)

    @property
    def group(self) -> str:
        return self.cause or self.problem


@dataclass(frozen=True)
class DriftGroup:
    """The modules of one front-end that drift for one cause, in the order they were found."""

    frontend: str
    cause: str
    modules: tuple[str, ...]


def group_drift(drift: Iterable[Drift]) -> list[DriftGroup]:
    """``drift`` by front-end and cause: front-ends in the order found, their causes by size."""
    found: dict[str, dict[str, dict[str, None]]] = {}
    for item in drift:
        found.setdefault(item.frontend, {}).setdefault(item.group, {})[item.module] = None
    return [
        DriftGroup(frontend, cause, tuple(modules))
        for frontend, causes in found.items()
        for cause, modules in sorted(causes.items(), key=lambda entry: -len(entry[1]))
    ]


@dataclass(frozen=True)
class Expected:
    """What should be live for one module: a release and its artifact, or nothing (None)."""

    module: str
    release_id: str | None
    artifact_sha256: str | None


def verify_target(target: FrontendTarget, expected: Sequence[Expected]) -> list[Drift]:
    """Every drift of one front-end from ``expected``; an unreachable front-end drifts for every module."""
    modules = [item.module for item in expected]
    try:
        live = target.read_live(modules)
        left = target.list_leftovers(modules)
    except FrontendError as error:
        problem = _unreachable(target, error)
        return [Drift(target.location, item.module, problem, problem) for item in expected]
    return [
        Drift(target.location, item.module, problem, cause)
        for item, found in zip(expected, live, strict=True)
        for cause, problem in [
            *_problems(found, item.release_id, item.artifact_sha256),
            *((LEFTOVER, f"{LEFTOVER}: {path}") for path in left.get(item.module, ())),
        ]
    ]


def _unreachable(target: FrontendTarget, error: FrontendError) -> str:
    text = str(error)
    if text.endswith("folder does not exist"):
        return "front-end folder missing"
    return text.removeprefix(f"front-end {target.location}: ")


def live_problems(live: LiveRelease, expected_release: str | None, expected_sha: str | None) -> Iterator[str]:
    """What is wrong with one module on one front-end; nothing when it runs what is expected.

    ``expected_sha`` None skips the artifact check; every file's hash is compared either way.
    """
    return (problem for _cause, problem in _problems(live, expected_release, expected_sha))


def _problems(live: LiveRelease, expected_release: str | None, expected_sha: str | None) -> Iterator[tuple[str, str]]:
    """``live_problems``, each with its cause."""
    release = live.release_id
    if release is None:
        if expected_release is not None:
            yield "CURRENT missing", "CURRENT missing"
        return
    if expected_release is None:
        yield "live where nothing is recorded", f"CURRENT is {release} but no release is expected"
    elif release != expected_release:
        yield "another release live", f"CURRENT is {release} but {expected_release} expected"
    if live.info is None:
        yield "live release unreadable", f"release {release} is missing or has no readable {RELEASE_INFO}"
        return
    recorded = live.info.get("artifact_sha256")
    if expected_sha is not None and recorded != expected_sha:
        problem = f"release {release} holds artifact {str(recorded)[:12]} but {expected_sha[:12]} expected"
        yield "another artifact live", problem
    yield from _file_problems(live.hashes, live.info["files"])


def _file_problems(present: Mapping[str, str | None], recorded: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    for name in sorted(recorded):
        if name not in present:
            yield "files missing", f"file {name} missing"
        elif present[name] != recorded[name]:
            yield "files changed", f"file {name} changed"
    for name in sorted(set(present) - set(recorded)):
        yield "extra files", f"file {name} is extra"
