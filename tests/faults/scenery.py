"""Environments for fault tests: modules with real content, and the invariants every fault must keep.

The invariants are the contract's promises after any crash or failure: a front-end never shows a
half-written release, history never claims more than the front-ends hold, and no run or lock
outlives its process.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.engine.context import EnvironmentContext, Location, open_context
from app.engine.frontend import layout
from app.engine.store.models import (
    CompilationRow,
    EnvironmentRow,
    ModuleLockRow,
    ModuleRow,
    ModuleVersionRow,
    RunItemRow,
    RunRow,
)
from tests.bundles import write_bundle
from tests.conftest import Cli
from tests.engine.frontend.kit import read_current


@contextmanager
def opened(cli: Cli) -> Iterator[EnvironmentContext]:
    """The CLI's environment, opened in this process the way the CLI opens it."""
    ctx = open_context(Location.from_options(str(cli.data_dir), None))
    try:
        yield ctx
    finally:
        ctx.close()


def module_names(count: int) -> list[str]:
    return [f"Mod{i:03d}" for i in range(count)]


def write_modules(root: Path, count: int, seed: int, *, kilobytes: int = 24, tag: str = "") -> list[Path]:
    """``count`` bundles with a few incompressible files each; every fourth starts a new producer chain."""
    rng = random.Random(seed)
    paths = []
    for index, name in enumerate(module_names(count)):
        depends = [module_names(count)[index - 1]] if index % 4 else []
        files = {f"assets/blob{part}.bin": rng.randbytes(kilobytes * 256).hex()[: kilobytes * 256] for part in range(3)}
        files["static/tag.txt"] = f"{name} {tag}\n"
        paths.append(write_bundle(root, name, application=f"App{index % 5}", depends=depends, files=files))
    return paths


def hash_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def frontend_problems(frontends: Sequence[Path]) -> list[str]:
    """Every visible release is whole and unchanged, and every CURRENT names one of them."""
    problems: list[str] = []
    for frontend in frontends:
        if not frontend.is_dir():
            continue
        for module in sorted(p for p in frontend.iterdir() if p.is_dir()):
            releases = module / layout.RELEASES
            whole: set[str] = set()
            for release in sorted(releases.iterdir()) if releases.is_dir() else []:
                if release.name.startswith("."):
                    continue  # staging and discarding happen under hidden names
                problem = release_problem(release)
                if problem:
                    problems.append(f"{release}: {problem}")
                else:
                    whole.add(release.name)
            current = module / layout.CURRENT
            if current.exists():
                live = current.read_text().strip()
                if live not in whole:
                    problems.append(f"{current} names {live!r}, not a whole release")
            config = module / layout.CONFIG
            if config.exists():
                try:
                    json.loads(config.read_text())
                except ValueError:
                    problems.append(f"{config} is not whole JSON")
    return problems


def release_problem(release: Path) -> str | None:
    try:
        info = json.loads((release / layout.RELEASE_INFO).read_text())
    except (OSError, ValueError) as error:
        return f"no readable {layout.RELEASE_INFO} ({error})"
    recorded: dict[str, str] = info["files"]
    on_disk = {
        path.relative_to(release).as_posix(): path
        for path in release.rglob("*")
        if path.is_file() and path.name != layout.RELEASE_INFO
    }
    if set(on_disk) != set(recorded):
        return f"files differ from the record: {sorted(set(on_disk) ^ set(recorded))[:3]}"
    changed = [name for name, path in on_disk.items() if hash_file(path) != recorded[name]]
    return f"changed files {changed[:3]}" if changed else None


def currents(frontends: Sequence[Path], module: str) -> list[str | None]:
    return [read_current(frontend, module) for frontend in frontends]


def history_problems(ctx: EnvironmentContext, frontends: Sequence[Path]) -> list[str]:
    """No active run, no lock, no unfinished item; what history calls deployed is live everywhere."""
    problems: list[str] = []
    with ctx.db.read() as session:
        active = session.scalars(select(RunRow.id).where(RunRow.status == "running")).all()
        if active:
            problems.append(f"runs still active: {active}")
        locks = session.scalar(select(func.count()).select_from(ModuleLockRow))
        if locks:
            problems.append(f"{locks} module lock(s) left")
        unfinished = session.execute(
            select(RunItemRow.run_id, RunItemRow.module_name, RunItemRow.status).where(
                RunItemRow.status.in_(("pending", "deploying"))
            )
        ).all()
        if unfinished:
            problems.append(f"unfinished items: {[tuple(row) for row in unfinished[:5]]}")
        for name, recorded, target in live_and_target_releases(session):
            allowed = {recorded, target}  # a crash may leave the target live before it is recorded
            for frontend, live in zip(frontends, currents(frontends, name), strict=True):
                if live not in allowed:
                    problems.append(f"{frontend}/{name}: CURRENT {live}, history says {recorded}")
    return problems


def live_and_target_releases(session: Session) -> list[tuple[str, str | None, str | None]]:
    """Per module: the release history records as live, and the one a deploy would make live now."""
    platform = session.scalars(select(EnvironmentRow.platform_version)).one()
    rows = session.execute(
        select(ModuleRow.name, ModuleRow.deployed_release, ModuleVersionRow.number, CompilationRow.artifact_sha256)
        .join(ModuleVersionRow, ModuleVersionRow.id == ModuleRow.latest_version_id)
        .outerjoin(
            CompilationRow,
            (CompilationRow.module_version_id == ModuleVersionRow.id) & (CompilationRow.platform_version == platform),
        )
        .where(ModuleRow.deleted_at.is_(None))
    )
    return [
        (name, recorded, layout.release_id_for(number, platform, sha) if sha else None)
        for name, recorded, number, sha in rows
    ]
