"""Front-end operations on plain folders, for tests: each call goes through the target interface."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from app.engine.config import config_bytes
from app.engine.frontend import farm
from app.engine.frontend.content import ReleaseRequest, release_files
from app.engine.frontend.local.module_folder import read_release_info
from app.engine.frontend.local.target import LocalTarget
from app.engine.frontend.target import FrontendTarget
from app.engine.frontend.verify import Drift, Expected, verify_target


def targets(frontends: Sequence[Path]) -> list[FrontendTarget]:
    """One local target per distinct folder, as the environment builds them."""
    seen: dict[str, FrontendTarget] = {}
    for frontend in frontends:
        seen.setdefault(os.path.realpath(frontend), LocalTarget(Path(frontend).name, Path(frontend)))
    return list(seen.values())


def deploy_release(
    frontends: Sequence[Path], request: ReleaseRequest, artifact: bytes, keep: int = 2, *, flush: bool = True
) -> str:
    """Stage and switch one release everywhere; its id, or the error raised."""
    chosen = targets(frontends)
    [rollout] = farm.deploy_releases(chosen, [release_files(request, artifact)], keep)
    if rollout.error is not None:
        raise rollout.error
    assert rollout.release_id is not None
    if flush:
        farm.flush_all(chosen)
    return rollout.release_id


def apply_config(frontends: Sequence[Path], module: str, config: Mapping[str, str]) -> None:
    farm.apply_config(targets(frontends), module, config_bytes(config))


def remove_module(frontends: Sequence[Path], module: str) -> None:
    farm.remove_module(targets(frontends), module)


def read_current(frontend: Path, module: str) -> str | None:
    return LocalTarget(frontend.name, frontend).read_current([module])[module]


def recorded_files(frontend: Path, module: str, release_id: str) -> dict[str, str]:
    """The ``files`` map of a release's ``.release.json``."""
    info = read_release_info(frontend / module / "releases" / release_id)
    return dict(info["files"]) if info else {}


def verify_module(frontend: Path, module: str, release: str | None, sha: str | None) -> list[Drift]:
    return verify_target(LocalTarget(frontend.name, frontend), [Expected(module, release, sha)])
