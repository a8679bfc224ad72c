"""Comparing what front-ends run with what the environment records (``verify``, section 7.6).

Work files an interrupted call left in a module folder (``FrontendTarget.list_leftovers``) are
drift of their own kind, named by ``LEFTOVER``: nothing serves them, but they take room and say
that something stopped half-way there. ``prune`` removes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from app.engine.frontend.layout import RELEASE_INFO
from app.engine.frontend.target import FrontendError, FrontendTarget, LiveRelease

LEFTOVER = "leftover from an interrupted run"


@dataclass(frozen=True)
class Drift:
    """One difference between a front-end and what the environment expects there."""

    frontend: str
    module: str
    problem: str


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
        return [Drift(target.location, item.module, problem) for item in expected]
    return [
        Drift(target.location, item.module, problem)
        for item, found in zip(expected, live, strict=True)
        for problem in [
            *live_problems(found, item.release_id, item.artifact_sha256),
            *(f"{LEFTOVER}: {path}" for path in left.get(item.module, ())),
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
    release = live.release_id
    if release is None:
        if expected_release is not None:
            yield "CURRENT missing"
        return
    if expected_release is None:
        yield f"CURRENT is {release} but no release is expected"
    elif release != expected_release:
        yield f"CURRENT is {release} but {expected_release} expected"
    if live.info is None:
        yield f"release {release} is missing or has no readable {RELEASE_INFO}"
        return
    recorded = live.info.get("artifact_sha256")
    if expected_sha is not None and recorded != expected_sha:
        yield f"release {release} holds artifact {str(recorded)[:12]} but {expected_sha[:12]} expected"
    yield from _file_problems(live.hashes, live.info["files"])


def _file_problems(present: Mapping[str, str | None], recorded: Mapping[str, str]) -> Iterator[str]:
    for name in sorted(recorded):
        if name not in present:
            yield f"file {name} missing"
        elif present[name] != recorded[name]:
            yield f"file {name} changed"
    for name in sorted(set(present) - set(recorded)):
        yield f"file {name} is extra"
