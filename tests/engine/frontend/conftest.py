"""SSH servers for the front-end target tests: a farm per test, its client configuration in
DEPLOYCENTER_SSH_CONFIG, and SSH targets that are closed after the test."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from app.engine.artifacts import canonical_zip
from app.engine.frontend.content import ReleaseRequest, release_files
from app.engine.frontend.ssh.options import CONFIG_ENV, Limits
from app.engine.frontend.ssh.target import SshTarget
from app.engine.frontend.target import FrontendTarget, ReleaseFiles, Staged, Switch
from tests.engine.frontend.ssh_farm_kit import SshEnv, make_env
from tests.sshd import Farm, SshServer, farm, start_or_skip

# Short limits so that the fault tests end quickly; the defaults are for real networks.
FAST = Limits(connect_timeout=5, command_timeout=8, keepalive_interval=1, keepalive_count=3)

MakeTarget = Callable[..., SshTarget]


@pytest.fixture
def ssh_farm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Farm]:
    with farm() as made:
        monkeypatch.setenv(CONFIG_ENV, str(made.config))
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # only the farm's own key may log in
        monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no user's known_hosts or keys either
        yield made


@pytest.fixture
def ssh_env(ssh_farm: Farm, tmp_path: Path) -> Iterator[SshEnv]:
    """``ssh_farm_kit.make_env``: three SSH front-ends with ``NAMES`` prepared for 11.19.0."""
    env = make_env(ssh_farm, tmp_path)
    try:
        yield env
    finally:
        env.ctx.close()


@pytest.fixture
def server(ssh_farm: Farm) -> SshServer:
    return start_or_skip(ssh_farm)


@pytest.fixture
def make_target() -> Iterator[MakeTarget]:
    made: list[SshTarget] = []

    def make(location: str, name: str = "web", limits: Limits = FAST) -> SshTarget:
        target = SshTarget(name, location, limits)
        made.append(target)
        return target

    yield make
    for target in made:
        target.close()


@pytest.fixture
def remote_folder(server: SshServer) -> Path:
    return server.folder("front")


@pytest.fixture
def target(server: SshServer, remote_folder: Path, make_target: MakeTarget) -> SshTarget:
    return make_target(server.url(remote_folder))


def artifact_files(version: int, module: str = "Orders") -> dict[str, bytes]:
    return {
        ".build.json": f'{{"module":"{module}"}}'.encode(),
        "src/app.py": f"VERSION = {version}\n".encode(),
        "src/pkg/deep/data.txt": b"data" * (version + 1),
    }


def release_for(
    module: str = "Orders",
    version: int = 1,
    config: Mapping[str, str] | None = None,
    files: Mapping[str, bytes] | None = None,
) -> tuple[ReleaseFiles, ReleaseRequest, bytes]:
    """A release as the engine hands it to every target, with the request and artifact behind it."""
    artifact = canonical_zip(dict(files) if files is not None else artifact_files(version, module))
    sha = hashlib.sha256(artifact).hexdigest()
    request = ReleaseRequest(module, version, "11.19.0", sha, dict(config or {"MaxRows": str(version)}))
    return release_files(request, artifact), request, artifact


def tree(root: Path, skip_modes: frozenset[str] = frozenset()) -> dict[str, tuple[str, bytes | None, int | None]]:
    """Every entry under ``root``: kind, content for files, and permission bits."""
    found: dict[str, tuple[str, bytes | None, int | None]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        info = path.lstat()
        mode = None if path.name in skip_modes else stat.S_IMODE(info.st_mode)
        if stat.S_ISDIR(info.st_mode):
            found[relative] = ("dir", None, mode)
        else:
            found[relative] = ("file", path.read_bytes(), mode)
    return found


def staged(target: FrontendTarget, *modules: str, version: int = 1) -> list[Staged]:
    results = target.stage([release_for(module, version)[0] for module in modules])
    for result in results:
        assert isinstance(result, Staged), result
    return [result for result in results if isinstance(result, Staged)]


def go_live(target: FrontendTarget, version: int = 1, module: str = "Orders") -> Staged:
    release = release_for(module, version)[0]
    [result] = target.stage([release])
    assert isinstance(result, Staged), result
    assert target.switch([Switch(module, release.release_id, release.config)]) == [None]
    target.flush()
    return result
