"""A plain (not editable) install from the wheel finds its resources and migrations inside itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

# One worker builds and installs the wheel once (a module fixture) and runs every test on it.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed into a folder of its own, without its dependencies (the venv has them)."""
    work = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(work), str(REPO)], check=True, timeout=300)
    (wheel,) = work.glob("deploycenter-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(work / "site"), str(wheel)], check=True, timeout=300)
    return work / "site"


def run_installed(site: Path, tmp_path: Path, *code_or_args: str) -> subprocess.CompletedProcess[str]:
    # -S skips the venv's .pth files, among them the editable install that points at this checkout;
    # the venv's libraries come from PYTHONPATH instead, after the installed copy.
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(site), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]),
    )
    return subprocess.run(
        [sys.executable, "-S", *code_or_args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_wheel_contents(site: Path) -> None:
    (wheel,) = site.parent.glob("deploycenter-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "app/_resources/catalog.json" in names
    assert "app/engine/store/migrations/env.py" in names
    assert any(name.startswith("app/engine/store/migrations/versions/0001") for name in names)
    assert not [name for name in names if name.startswith("tests/") or "__pycache__" in name]


def test_installed_copy_uses_its_own_resources(site: Path, tmp_path: Path) -> None:
    result = run_installed(site, tmp_path, "-c", "import app.paths; print(app.paths.resources_dir())")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == site / "app" / "_resources"


def test_installed_copy_creates_an_environment(site: Path, tmp_path: Path) -> None:
    data = tmp_path / "env"
    init = run_installed(site, tmp_path, "-m", "app", "--unattended", "init", "--demo", "--data-dir", str(data))
    assert init.returncode in (0, 1), init.stderr
    status = run_installed(site, tmp_path, "-m", "app", "--unattended", "status", "--json", "--data-dir", str(data))
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["platform_version"] == "11.18.1"
