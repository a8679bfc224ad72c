"""An environment on three SSH front-ends, for the whole-farm tests: what each server holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.engine.context import EnvironmentContext
from tests.sshd import SshServer

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
