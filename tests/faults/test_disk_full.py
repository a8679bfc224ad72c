"""A front-end's disk fills up during extraction: only that module fails, with a clear message, and no
partial release is left behind.

As root the front-end is a real, small tmpfs; elsewhere that variant is skipped and the same failure is
injected at the file layer (``os.write`` raising ENOSPC for the module's files on that front-end).
"""

from __future__ import annotations

import errno
import os
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.context import Location
from app.engine.read import views
from tests.engine.envkit import Kit
from tests.faults.scenery import currents, frontend_problems, history_problems

SMALL = [f"Small{i}" for i in range(4)]
BULKY = "Zeppelin"  # sorts last, so the smaller modules are never staged beside it
BULKY_KB = 600


@pytest.fixture
def tmpfs_frontend(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(
            f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}); "
            "the injected ENOSPC test covers this case"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def kit_on(tmp_path: Path, second: Path, database_url: str | None) -> Kit:
    first = tmp_path / "fe1"
    ctx = operations.init_environment(Location(tmp_path / "env", database_url), frontends=[str(first), str(second)])
    return Kit(tmp_path, ctx, [first, second])


def publish_and_prepare(kit: Kit) -> None:
    rng = random.Random(7)
    bulky = {"assets/payload.bin": rng.randbytes(BULKY_KB * 512).hex()}  # incompressible, BULKY_KB KB
    kit.publish(*(kit.bundle(name) for name in SMALL), kit.bundle(BULKY, files=bulky))
    operations.upgrade(kit.ctx, "11.19.0")


def assert_only_the_bulky_module_failed(kit: Kit, full: Path) -> None:
    before = currents(kit.frontends, BULKY)
    run = operations.deploy_all(kit.ctx, workers=1)
    items = {i.module: i for i in views.run_detail(kit.ctx, run.run_id).items}
    bulky = items[BULKY]
    assert bulky.status == "failed"
    assert "No space left on device" in (bulky.reason or "") and str(full) in (bulky.reason or ""), bulky.reason
    assert all(items[name].status == "deployed" for name in SMALL), items
    assert currents(kit.frontends, BULKY) == before, "the previous release stays live on both front-ends"
    leftovers = [p.name for p in (full / BULKY / "releases").iterdir() if p.name.startswith(".")]
    assert leftovers == [], "no partial release stays behind"
    assert frontend_problems(kit.frontends) == [] and history_problems(kit.ctx, kit.frontends) == []
    # The space the failed extraction took is free again: another module still fits.
    assert kit.publish(kit.bundle("Afterwards")).status == "succeeded"


def test_a_full_tmpfs_frontend_fails_only_the_module_that_does_not_fit(
    tmp_path: Path, tmpfs_frontend: Path, database_url: str | None
) -> None:
    kit = kit_on(tmp_path, tmpfs_frontend, database_url)
    try:
        publish_and_prepare(kit)
        assert_only_the_bulky_module_failed(kit, tmpfs_frontend)
    finally:
        kit.ctx.close()


def test_an_injected_enospc_fails_only_that_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell which file a descriptor writes")
    full = tmp_path / "fe2"
    kit = kit_on(tmp_path, full, None)
    try:
        publish_and_prepare(kit)
        doomed = f"{full}/{BULKY}/"
        real_write = os.write
        writes = 0

        def write(fd: int, data: bytes) -> int:
            nonlocal writes
            if os.readlink(f"/proc/self/fd/{fd}").startswith(doomed):
                writes += 1
                if writes > 2:  # some files are already out when the disk fills up
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", write)
        assert_only_the_bulky_module_failed(kit, full)
        assert writes > 2, "the failure was injected where the release is extracted"
    finally:
        kit.ctx.close()
