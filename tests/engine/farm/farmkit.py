"""A three-front-end farm for rollout tests: real hook scripts that record their calls, and a
real health endpoint that answers from what each front-end runs."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update

from app.engine import operations
from app.engine.store.models import FrontendRow
from tests.engine.envkit import Kit, make_kit
from tests.farm_http import FarmHealth, farm_health_server

FRONTENDS = ("fe1", "fe2", "fe3")

# One script for every hook. It appends "phase front-end run CURRENT-of-Alpha-there" to the calls
# file, then hangs when a file hang-PHASE-FRONTEND exists, and exits with the code written in
# fail-PHASE-FRONTEND when that exists.
HOOK_SCRIPT = """#!/bin/sh
here=$(dirname "$0")
current=$(cat "$here/$DEPLOYCENTER_FRONTEND/Alpha/CURRENT" 2>/dev/null || echo none)
echo "$DEPLOYCENTER_PHASE $DEPLOYCENTER_FRONTEND $DEPLOYCENTER_RUN $current" >> "$here/calls"
if [ -e "$here/hang-$DEPLOYCENTER_PHASE-$DEPLOYCENTER_FRONTEND" ]; then sleep 300; fi
if [ -e "$here/fail-$DEPLOYCENTER_PHASE-$DEPLOYCENTER_FRONTEND" ]; then
  echo "balancer refused $DEPLOYCENTER_PHASE of $DEPLOYCENTER_FRONTEND" >&2
  exit "$(cat "$here/fail-$DEPLOYCENTER_PHASE-$DEPLOYCENTER_FRONTEND")"
fi
echo "$DEPLOYCENTER_PHASE of $DEPLOYCENTER_FRONTEND done"
"""


@dataclass
class Farm:
    kit: Kit
    health: FarmHealth
    url: str
    hook: Path

    @property
    def root(self) -> Path:
        return self.kit.root

    def calls(self) -> list[tuple[str, str, str]]:
        """(phase, front-end, what it ran then) of every hook call, in order."""
        path = self.root / "calls"
        lines = path.read_text().splitlines() if path.exists() else []
        return [(phase, frontend, current) for phase, frontend, _run, current in (line.split() for line in lines)]

    def fail(self, phase: str, frontend: str, code: int = 1) -> None:
        (self.root / f"fail-{phase}-{frontend}").write_text(str(code))

    def hang(self, phase: str, frontend: str) -> None:
        (self.root / f"hang-{phase}-{frontend}").touch()

    def currents(self, module: str = "Alpha") -> list[str | None]:
        return [self.kit.current(module, i) for i in range(len(FRONTENDS))]

    def set_hooks(self, **values: object) -> None:
        with self.kit.ctx.db.write() as session:
            session.execute(update(FrontendRow).values(**values))


def hook_command(hook: Path) -> str:
    return shlex.quote(str(hook))


@contextmanager
def farm(root: Path, *, drain: bool = True, url: str = "/{frontend}", timeout: float = 1) -> Iterator[Farm]:
    """Alpha and Beta (a consumer of Alpha) ready on 11.19.0 on fe1..fe3, each front-end with the
    hook script as its drain and undrain command and the endpoint as its health URL."""
    kit = make_kit(root, frontends=len(FRONTENDS))
    try:
        kit.publish(kit.bundle("Alpha"), kit.bundle("Beta", depends=["Alpha"]))
        operations.upgrade(kit.ctx, "11.19.0")
        hook = root / "hook.sh"  # beside the front-ends' folders, root/fe1 ...
        hook.write_text(HOOK_SCRIPT)
        hook.chmod(0o755)
        health = FarmHealth(dict(zip(FRONTENDS, kit.frontends, strict=True)))
        with farm_health_server(health) as base:
            made = Farm(kit, health, base, hook)
            values: dict[str, object] = {"health_url": base + url, "health_timeout": timeout}
            if drain:
                values |= {"drain_cmd": hook_command(hook), "undrain_cmd": hook_command(hook)}
            made.set_hooks(**values)
            yield made
    finally:
        kit.ctx.close()
