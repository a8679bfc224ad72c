"""An environment on three SSH front-ends, for the whole-farm tests: what each server holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.engine import operations
from app.engine.context import EnvironmentContext, Location
from tests.bundles import write_bundle
from tests.sshd import Farm, SshServer, start_or_skip

NAMES = [f"Mod{i:02d}" for i in range(12)]  # Mod00 first; every other module depends on it


@dataclass
class SshEnv:
    ctx: EnvironmentContext
    data_dir: Path
    servers: list[SshServer]
    folders: list[Path]

    def currents(self, module: str) -> list[str | None]:
        """What ``CURRENT`` names on each server, read from its folder directly."""
        found = []
        for folder in self.folders:
            current = folder / module / "CURRENT"
            found.append(current.read_text().strip() if current.is_file() else None)
        return found

    def everything(self) -> dict[str, list[str | None]]:
        return {name: self.currents(name) for name in NAMES}


def make_env(ssh_farm: Farm, tmp_path: Path, before_init: Callable[[list[Path]], None] | None = None) -> SshEnv:
    """Three servers, web1 to web3, each with a front-end folder; ``NAMES`` published on 11.18.1
    and prepared for 11.19.0. ``before_init`` sees the folders before the environment exists."""
    servers = [start_or_skip(ssh_farm, f"web{n}") for n in (1, 2, 3)]
    folders = [server.folder("front") for server in servers]
    if before_init is not None:
        before_init(folders)
    ctx = operations.init_environment(
        Location(tmp_path / "env"),
        frontends=[server.url(folder) for server, folder in zip(servers, folders, strict=True)],
    )
    bundles = [write_bundle(tmp_path / "b", name, depends=[NAMES[0]] if name != NAMES[0] else []) for name in NAMES]
    try:
        assert operations.publish(ctx, bundles).status == "succeeded"
        operations.upgrade(ctx, "11.19.0")  # every module now has a release to deploy
    except BaseException:
        ctx.close()
        raise
    return SshEnv(ctx, tmp_path / "env", servers, folders)
