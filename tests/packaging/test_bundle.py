"""The frozen bundle and the .deb built from it, used the way an installed copy is used.

Builds once per test run (about a minute on two cores): PyInstaller with packaging/deploycenter.spec,
then packaging/build-deb on that bundle. The tools these tests need come from packaging/dev-setup.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import app
from app.engine.runs import pool as worker_processes
from app.logsetup import LOG_FILE_NAME
from tests.bundles import write_bundle

# One worker builds the bundle and the .deb once (module fixtures) and runs every test on them.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("bundle")]

REPO = Path(__file__).resolve().parents[2]
ICON_SIZES = (16, 32, 48, 64, 128, 256)
# Found with dev-setup's Debian packages; a missing one is a setup error, not a reason to skip.
TOOLS = ("objdump", "ldd", "dpkg-deb", "desktop-file-validate", "appstreamcli", "Xvfb", "xwininfo")


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"'{name}' is missing: run packaging/dev-setup"
    return path


def run(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for name in TOOLS:
        tool(name)
    work = tmp_path_factory.mktemp("pyinstaller")
    result = run(
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        work / "dist",
        "--workpath",
        work / "build",
        REPO / "packaging" / "deploycenter.spec",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    folder = work / "dist" / "deploycenter"
    assert (folder / "deploycenter").is_file()
    return folder


@pytest.fixture(scope="module")
def deb(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    # gzip keeps the test quick; the release default (xz) differs only in dpkg-deb's compressor.
    result = run(
        REPO / "packaging" / "build-deb", "--bundle", bundle, "--output", out, "--compression", "gzip", timeout=300
    )
    assert result.returncode == 0, result.stderr
    built = Path(result.stdout.strip().splitlines()[-1])
    assert built.name == f"deploycenter_{app.__version__}_{dpkg_arch()}.deb"
    return built


@pytest.fixture(scope="module")
def installed_root(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    result = run("dpkg", "-x", deb, root)
    assert result.returncode == 0, result.stderr
    return root


def dpkg_arch() -> str:
    return run("dpkg", "--print-architecture").stdout.strip()


def user_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user's environment: own home, no display unless given, no test-run Qt settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("QT_", "DEPLOYCENTER_", "XDG_")) and key not in ("DISPLAY", "WAYLAND_DISPLAY")
    }
    env["HOME"] = str(tmp_path / "home")
    return env | extra


# -- the bundle ---------------------------------------------------------------------------------


def test_version(bundle: Path, tmp_path: Path) -> None:
    result = run(bundle / "deploycenter", "--version", env=user_env(tmp_path))
    assert (result.returncode, result.stdout.strip()) == (0, f"deploycenter {app.__version__}")


def test_unattended_init_and_status(bundle: Path, tmp_path: Path) -> None:
    env = user_env(tmp_path)
    data = tmp_path / "env"
    init = run(bundle / "deploycenter", "--unattended", "init", "--demo", "--data-dir", data, env=env)
    assert init.returncode in (0, 1), init.stderr
    status = run(bundle / "deploycenter", "--unattended", "status", "--json", "--data-dir", data, env=env)
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    assert document["platform_version"] == "11.18.1"
    assert document["active_run"] is None
    assert (data / "frontends" / "default").is_dir()


def test_upgrade_runs_the_bundled_migrations_and_catalog(bundle: Path, tmp_path: Path) -> None:
    env = user_env(tmp_path)
    data = tmp_path / "env"
    run(bundle / "deploycenter", "--unattended", "init", "--demo", "--data-dir", data, env=env)
    upgrade = run(bundle / "deploycenter", "--unattended", "upgrade", "--to", "11.19.0", "--data-dir", data, env=env)
    assert upgrade.returncode == 1, upgrade.stderr  # the demo has modules that fail on 11.19.0
    plan = run(
        bundle / "deploycenter", "--unattended", "deploy-all", "--dry-run", "--json", "--data-dir", data, env=env
    )
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["plan"]["items"]


def test_a_big_deploy_all_runs_its_worker_processes_from_the_bundle(bundle: Path, tmp_path: Path) -> None:
    env = {**user_env(tmp_path), "DEPLOYCENTER_PROCESSES": "2", "DEPLOYCENTER_LOG_DIR": str(tmp_path / "log")}
    data = tmp_path / "env"
    run(bundle / "deploycenter", "--unattended", "init", "--data-dir", data, env=env)
    names = [f"Mod{i:03d}" for i in range(worker_processes.MIN_MODULES)]
    bundles = [write_bundle(tmp_path / "bundles", name) for name in names]
    published = run(
        bundle / "deploycenter", "--unattended", "publish", *bundles, "--data-dir", data, env=env, timeout=300
    )
    assert published.returncode == 0, published.stderr
    run(bundle / "deploycenter", "--unattended", "upgrade", "--to", "11.19.0", "--data-dir", data, env=env, timeout=300)
    deployed = run(
        bundle / "deploycenter", "--unattended", "deploy-all", "--json", "--data-dir", data, env=env, timeout=300
    )
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["run"]["status"] == "succeeded"
    log = (tmp_path / "log" / LOG_FILE_NAME).read_text()
    assert "working in 2 worker processes" in log and "worker processes stopped" not in log
    assert all("11.19.0" in (data / "frontends" / "default" / name / "CURRENT").read_text() for name in names)


def test_default_data_and_log_dirs_are_the_users(bundle: Path, tmp_path: Path) -> None:
    env = user_env(tmp_path)
    result = run(bundle / "deploycenter", "--unattended", "init", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "home" / ".local" / "share" / "deploycenter" / "deploycenter.sqlite3").is_file()


def test_ssh_front_ends_are_bundled(bundle: Path, tmp_path: Path) -> None:
    # Nothing listens on port 1: the SSH client must load and then fail to connect, in one line.
    target = "ssh://127.0.0.1:1/srv/front"
    result = run(
        bundle / "deploycenter",
        "--unattended",
        "init",
        "--frontend",
        target,
        "--data-dir",
        tmp_path / "env",
        env=user_env(tmp_path),
    )
    assert result.returncode == 4, result.stderr
    assert "connection refused" in result.stderr and "No module named" not in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "env").exists()


def test_postgresql_driver_is_bundled(bundle: Path, tmp_path: Path) -> None:
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed (pip install -e '.[postgres]')")
    # Nothing listens on port 1: the driver must load and then fail to connect, in one line.
    url = "postgresql+psycopg://deploycenter@127.0.0.1:1/deploycenter"
    result = run(
        bundle / "deploycenter",
        "--unattended",
        "status",
        "--database-url",
        url,
        "--data-dir",
        tmp_path,
        env=user_env(tmp_path),
    )
    assert result.returncode != 0
    assert "connection" in result.stderr.lower() and "No module named" not in result.stderr
    assert "Traceback" not in result.stderr


def test_window_without_a_display_is_one_clear_line(bundle: Path, tmp_path: Path) -> None:
    result = run(bundle / "deploycenter", env=user_env(tmp_path))
    assert result.returncode == 4
    assert "--unattended" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bundle_carries_what_it_loads_from_disk(bundle: Path) -> None:
    internal = bundle / "_internal"
    versions = REPO / "app" / "engine" / "store" / "migrations" / "versions"
    for script in versions.glob("*.py"):
        assert (internal / "app" / "engine" / "store" / "migrations" / "versions" / script.name).is_file()
    assert (internal / "app" / "engine" / "store" / "migrations" / "env.py").is_file()
    assert list(internal.glob("libpython3*.so*")), "the bootloader loads libpython from the bundle"
    assert (internal / "resources" / "catalog.json").is_file()
    assert (internal / "resources" / "icons" / "deploycenter.svg").is_file()
    assert (internal / "PySide6" / "Qt" / "plugins" / "platforms" / "libqxcb.so").is_file()
    assert (internal / "PySide6" / "Qt" / "plugins" / "iconengines" / "libqsvgicon.so").is_file()


def test_bundle_leaves_out_what_it_does_not_use(bundle: Path) -> None:
    internal = bundle / "_internal"
    names = {path.name for path in internal.rglob("*")}
    assert not any(name.startswith(("libX11", "libxcb", "libfontconfig", "libglib")) for name in names)
    for unused in ("pytest", "PyInstaller", "tkinter", "tests"):
        assert not (internal / unused).exists(), unused
    assert not (internal / "PySide6" / "Qt" / "translations").exists()
    assert not list(internal.rglob("libQt6Network*")) and not list(internal.rglob("libqwayland*"))
    size_mb = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    assert size_mb < 160, f"the bundle grew to {size_mb:.0f} MB"


@pytest.fixture
def virtual_screen() -> Iterator[str]:
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [tool("Xvfb"), "-displayfd", str(write_end), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        display = ":" + pipe.readline().strip()
    try:
        yield display
    finally:
        server.terminate()
        server.wait(timeout=10)


def window_titles(display: str) -> list[str]:
    tree = run("xwininfo", "-root", "-tree", env=dict(os.environ, DISPLAY=display)).stdout
    return [line.split('"')[1] for line in tree.splitlines() if line.count('"') >= 2]


def test_window_opens_on_an_x_display(bundle: Path, tmp_path: Path, virtual_screen: str) -> None:
    """The X11 plugin, its system libraries, fonts and icons all load from the bundle."""
    env = user_env(tmp_path, DISPLAY=virtual_screen)
    data = tmp_path / "env"
    run(bundle / "deploycenter", "--unattended", "init", "--name", "Bundle", "--data-dir", data, env=env)
    started = time.monotonic()
    window = subprocess.Popen(
        [bundle / "deploycenter", "--data-dir", data],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        while "Deploy Center — Bundle" not in window_titles(virtual_screen):
            assert window.poll() is None, window.communicate()[1]
            assert time.monotonic() - started < 30, "no window after 30 s"
            time.sleep(0.1)
        print(f"window after {time.monotonic() - started:.2f} s")
    finally:
        window.terminate()
        _, err = window.communicate(timeout=15)
    assert "Traceback" not in err and "qt.qpa" not in err, err


# -- the .deb -----------------------------------------------------------------------------------


def test_deb_control_fields(deb: Path) -> None:
    fields = dict(
        line.split(": ", 1)
        for line in run("dpkg-deb", "-f", deb).stdout.splitlines()
        if ": " in line and not line.startswith(" ")
    )
    assert fields["Package"] == "deploycenter"
    assert fields["Version"] == app.__version__
    assert fields["Architecture"] == dpkg_arch()
    depends = {name.strip() for name in fields["Depends"].split(",")}
    wanted = (REPO / "packaging" / "linux" / "qt-runtime-packages").read_text(encoding="utf-8")
    assert {line for line in wanted.splitlines() if line and not line.startswith("#")} <= depends
    assert {"libc6", "libstdc++6"} <= depends  # found by reading the bundle's libraries


def test_deb_layout(installed_root: Path) -> None:
    program = installed_root / "opt" / "deploycenter" / "deploycenter"
    assert program.is_file() and os.access(program, os.X_OK)
    link = installed_root / "usr" / "bin" / "deploycenter"
    assert link.is_symlink() and os.readlink(link) == "/opt/deploycenter/deploycenter"
    icons = installed_root / "usr" / "share" / "icons" / "hicolor"
    for size in ICON_SIZES:
        assert (icons / f"{size}x{size}" / "apps" / "deploycenter.png").is_file()
    assert (icons / "scalable" / "apps" / "deploycenter.svg").is_file()
    assert (installed_root / "usr" / "share" / "doc" / "deploycenter" / "copyright").is_file()


def test_deb_files_are_owned_by_root_with_sane_modes(deb: Path) -> None:
    listing = run("dpkg-deb", "-c", deb).stdout.splitlines()
    assert listing and all(" root/root " in line for line in listing)
    writable = [line for line in listing if not line.startswith("l") and "w" in (line[5], line[8])]
    assert not writable  # no group- or other-writable file or folder


def test_deb_menu_entry_validates(installed_root: Path) -> None:
    entry = installed_root / "usr" / "share" / "applications" / "deploycenter.desktop"
    result = run("desktop-file-validate", entry)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout
    text = entry.read_text(encoding="utf-8")
    assert "\nExec=deploycenter\n" in text and "\nIcon=deploycenter\n" in text


def test_deb_metainfo_validates(installed_root: Path) -> None:
    metainfo = installed_root / "usr" / "share" / "metainfo" / "io.deploycenter.DeployCenter.metainfo.xml"
    result = run("appstreamcli", "validate", "--no-net", metainfo)
    assert result.returncode == 0, result.stdout


def test_deb_program_runs_through_a_link(installed_root: Path, tmp_path: Path) -> None:
    """As /usr/bin/deploycenter does: the bootloader must find its files through the link."""
    link = tmp_path / "bin" / "deploycenter"
    link.parent.mkdir()
    link.symlink_to(installed_root / "opt" / "deploycenter" / "deploycenter")
    env = user_env(tmp_path)
    assert run(link, "--version", env=env).stdout.strip() == f"deploycenter {app.__version__}"
    init = run(link, "--unattended", "init", "--data-dir", tmp_path / "env", env=env)
    assert init.returncode == 0, init.stderr
