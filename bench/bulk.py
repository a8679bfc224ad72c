"""A large environment built by inserting rows directly, for the read paths at 100,000 modules.

Publishing and upgrading 100,000 real bundles takes long (see RESULTS.md), while what the dry run,
``status`` and ``modules`` read is only rows. ``build`` creates the environment with the engine's
own ``init`` (so the schema and migrations are the real ones), then inserts in a few bulk
statements the state right after ``upgrade --to 11.19.0`` of the same synthetic module set that
``modules.generate`` writes as bundles:

- one version per module, with the same names, applications and capabilities, and dependencies
  drawn the same way (bundles also draw file content from the generator, so the exact producer
  picks differ);
- a compilation for 11.18.1 (succeeded, live on the front-end) and one for 11.19.0 (failed for
  the modules that use ``soap.legacy`` and for their consumers, succeeded for the rest);
- the finished publish and upgrade runs, with one item per module, and the deployment history.

No files are written to the front-end: the read paths never look at it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update

from app.engine import operations
from app.engine.context import Location
from app.engine.identity import current_user, host_name, utcnow
from app.engine.store.models import (
    CompilationRow,
    DeploymentRow,
    EnvironmentRow,
    ModuleRow,
    ModuleVersionRow,
    PlatformUpgradeRow,
    RunItemRow,
    RunRow,
)
from bench.modules import ModuleSpec, module_spec

FROM_PLATFORM = "11.18.1"
TO_PLATFORM = "11.19.0"
FAKE_SHA = "ab" * 32
CHUNK = 20_000


def specs(count: int, seed: int = 7) -> list[ModuleSpec]:
    rng = random.Random(seed)
    result = []
    for index in range(count):
        result.append(module_spec(index, rng))
    return result


def build(data_dir: Path, count: int) -> None:
    ctx = operations.init_environment(Location(data_dir), platform=FROM_PLATFORM)
    try:
        _insert(ctx, specs(count))
    finally:
        ctx.close()


def _insert(ctx: Any, modules: list[ModuleSpec]) -> None:
    now = utcnow()
    earlier = now - timedelta(hours=1)
    who = current_user()
    n = len(modules)
    failed = _failures_after_upgrade(modules)
    release = f"v1-{FROM_PLATFORM}-{FAKE_SHA[:12]}"
    with ctx.db.write() as session:
        frontend_id = 1
        _chunked(
            session,
            ModuleRow,
            (
                {
                    "id": m.index + 1,
                    "name": m.name,
                    "name_key": m.name.casefold(),
                    "application": m.application,
                    "description": f"Synthetic module {m.index}",
                    "created_at": earlier,
                    "config_overrides": {},
                }
                for m in modules
            ),
        )
        _chunked(
            session,
            ModuleVersionRow,
            (
                {
                    "id": m.index + 1,
                    "module_id": m.index + 1,
                    "number": 1,
                    "source_sha256": FAKE_SHA,
                    "manifest": {
                        "name": m.name,
                        "application": m.application,
                        "description": "",
                        "platform": ">=11.18",
                        "uses": list(m.uses),
                        "depends": list(m.depends),
                        "config": {"MaxRows": "100"},
                    },
                    "depends": ",".join(m.depends),
                    "published_at": earlier,
                    "published_by": who,
                }
                for m in modules
            ),
        )
        _chunked(
            session,
            CompilationRow,
            (
                {
                    "id": m.index + 1,
                    "module_version_id": m.index + 1,
                    "platform_version": FROM_PLATFORM,
                    "succeeded": True,
                    "reason": None,
                    "artifact_sha256": FAKE_SHA,
                    "artifact_size": 30_000,
                    "compiled_at": earlier,
                }
                for m in modules
            ),
        )
        _chunked(
            session,
            CompilationRow,
            (
                {
                    "id": n + m.index + 1,
                    "module_version_id": m.index + 1,
                    "platform_version": TO_PLATFORM,
                    "succeeded": m.name not in failed,
                    "reason": failed.get(m.name),
                    "artifact_sha256": None if m.name in failed else FAKE_SHA,
                    "artifact_size": 30_000,
                    "compiled_at": now,
                }
                for m in modules
            ),
        )
        session.execute(
            update(ModuleRow).values(
                latest_version_id=ModuleRow.id,
                deployed_compilation_id=ModuleRow.id,
                deployed_release=release,
                deployed_at=earlier,
            )
        )
        for run_id, kind, platform, at in ((1, "publish", FROM_PLATFORM, earlier), (2, "upgrade", TO_PLATFORM, now)):
            session.execute(
                insert(RunRow),
                [
                    {
                        "id": run_id,
                        "kind": kind,
                        "status": "failed" if kind == "upgrade" and failed else "succeeded",
                        "platform_version": platform,
                        "started_by": who,
                        "started_at": at,
                        "finished_at": at,
                        "owner_host": host_name(),
                        "owner_pid": 1,
                        "heartbeat_at": at,
                        "cancel_requested": False,
                        "workers": 2,
                    }
                ],
            )
            _chunked(
                session,
                RunItemRow,
                (
                    {
                        "run_id": run_id,
                        "position": m.index,
                        "module_id": m.index + 1,
                        "module_name": m.name,
                        "application": m.application,
                        "version": 1,
                        "compilation_id": (m.index + 1) if kind == "publish" else (n + m.index + 1),
                        "status": _item_status(kind, m.name in failed),
                        "reason": failed.get(m.name) and "compilation-failed",
                        "message": None,
                        "started_at": at,
                        "finished_at": at,
                    }
                    for m in modules
                ),
            )
        _chunked(
            session,
            DeploymentRow,
            (
                {
                    "module_id": m.index + 1,
                    "frontend_id": frontend_id,
                    "compilation_id": m.index + 1,
                    "release_id": release,
                    "run_id": 1,
                    "deployed_at": earlier,
                }
                for m in modules
            ),
        )
        session.add(
            PlatformUpgradeRow(
                from_version=FROM_PLATFORM, to_version=TO_PLATFORM, started_by=who, started_at=now, run_id=2
            )
        )
        session.execute(update(EnvironmentRow).values(platform_version=TO_PLATFORM))


def _item_status(kind: str, failed: bool) -> str:
    if kind == "publish":
        return "deployed"
    return "failed" if failed else "prepared"


def _failures_after_upgrade(modules: list[ModuleSpec]) -> dict[str, str]:
    """Module name -> why its 11.19.0 compilation failed (producers come first in the list)."""
    failed: dict[str, str] = {}
    for m in modules:
        if m.legacy:
            failed[m.name] = f"uses capability 'soap.legacy', which platform {TO_PLATFORM} does not offer"
            continue
        broken = next((d for d in m.depends if d in failed), None)
        if broken is not None:
            failed[m.name] = f"producer '{broken}' failed to compile for {TO_PLATFORM}"
    return failed


def _chunked(session: Any, model: Any, rows: Iterator[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            session.execute(insert(model), batch)
            batch = []
    if batch:
        session.execute(insert(model), batch)
