"""Project metadata and packaging files agree with each other and with the code."""

from __future__ import annotations

import re
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from configparser import ConfigParser
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

import app

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
METAINFO = PACKAGING / "linux" / "io.deploycenter.DeployCenter.metainfo.xml"


def pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def requirements(section: list[str]) -> dict[str, list[Requirement]]:
    found: dict[str, list[Requirement]] = {}
    for text in section:
        requirement = Requirement(text)
        found.setdefault(requirement.name.lower(), []).append(requirement)
    return found


def allowed(requirements_: list[Requirement], version: str, python: str) -> bool:
    environment = {"python_version": python, "python_full_version": python + ".0"}
    return any(
        (r.marker is None or r.marker.evaluate(environment)) and r.specifier.contains(version) for r in requirements_
    )


def test_version_is_the_packages() -> None:
    assert pyproject()["project"]["version"] == app.__version__


def test_license_is_an_spdx_string_with_a_build_backend_that_reads_it() -> None:
    settings = pyproject()
    assert settings["project"]["license"] == "MIT"
    assert (REPO / "LICENSE").is_file()
    setuptools = requirements(settings["build-system"]["requires"])["setuptools"][0]
    assert not setuptools.specifier.contains("76.9") and setuptools.specifier.contains("80.0")


@pytest.mark.parametrize(
    ("version", "python", "ok"),
    [
        ("6.11.3", "3.11", True),
        ("6.12.0", "3.11", False),  # aborts on 3.11 after many cross-thread signal emits
        ("6.12.0", "3.12", True),
        ("6.7.0", "3.11", False),
    ],
)
def test_pyside_range(version: str, python: str, ok: bool) -> None:
    pins = requirements(pyproject()["project"]["dependencies"])["pyside6-essentials"]
    assert allowed(pins, version, python) is ok


def test_runtime_dependencies() -> None:
    deps = requirements(pyproject()["project"]["dependencies"])
    assert "pyside6" not in deps  # the meta-package drags in WebEngine and the add-ons
    assert allowed(deps["sqlalchemy"], "2.0.30", "3.11") and not allowed(deps["sqlalchemy"], "1.4.52", "3.11")
    assert {"alembic", "platformdirs"} <= set(deps)


def test_test_extras_can_build_the_bundle() -> None:
    extras = requirements(pyproject()["project"]["optional-dependencies"]["test"])
    assert {"pytest", "pytest-qt", "pyinstaller"} <= set(extras)


def test_console_script() -> None:
    assert pyproject()["project"]["scripts"] == {"deploycenter": "app.__main__:main"}


def test_desktop_entry_points_at_the_program_and_its_icon() -> None:
    entry = ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(PACKAGING / "linux" / "deploycenter.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Exec"] == "deploycenter" and section["Icon"] == "deploycenter"
    for size in (16, 32, 48, 64, 128, 256):
        assert (REPO / "resources" / "icons" / f"deploycenter-{size}.png").is_file()


def test_metainfo_names_the_desktop_entry_and_this_release() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("launchable") == "deploycenter.desktop"
    assert root.findtext("project_license") == "MIT"
    newest = root.find("releases/release")
    assert newest is not None and newest.get("version") == app.__version__, (
        "add a <release> for the new version to the metainfo"
    )


def test_windows_installer_takes_the_same_bundle_and_version() -> None:
    script = (PACKAGING / "windows" / "deploycenter.iss").read_text(encoding="utf-8")
    assert r"dist\deploycenter\*" in script
    assert re.search(r'#define AppVersion "' + re.escape(app.__version__) + '"', script)


def test_macos_notes_use_the_same_spec() -> None:
    assert "packaging/deploycenter.spec" in (PACKAGING / "macos" / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("script", ["run-tests", "run-demo", "dev-setup", "build-deb"])
def test_scripts_are_executable_bash(script: str) -> None:
    path = PACKAGING / script
    assert path.stat().st_mode & 0o111, f"chmod +x {path}"
    assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0


def test_dev_setup_installs_what_the_packaging_tests_use() -> None:
    text = (PACKAGING / "dev-setup").read_text(encoding="utf-8")
    for package in ("desktop-file-utils", "appstream", "binutils", "xvfb", "x11-utils"):
        assert re.search(rf"\b{package}\b", text), package
    assert "qt-runtime-packages" in text


def test_ci_runs_the_readme_test_command() -> None:
    assert "bash packaging/run-tests" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def readme() -> str:
    return (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_demo_and_the_tests() -> None:
    blocks = re.findall(r"```[a-z]*\n(.*?)```", readme(), flags=re.S)
    assert [block.strip() for block in blocks[:2]] == ["bash packaging/run-demo", "bash packaging/run-tests"]


def test_readme_images_exist() -> None:
    for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme()):
        assert (REPO / target).is_file(), target


def test_readme_lists_every_exit_code() -> None:
    for code in ("0", "1", "2", "3", "4", "130"):
        assert re.search(rf"^\| {code} \|", readme(), flags=re.M), code


def test_windows_icon_matches_the_png_icons() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_ico", PACKAGING / "windows" / "make_ico.py")
    assert spec is not None and spec.loader is not None
    make_ico = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_ico)
    images = {size: (REPO / "resources" / "icons" / f"deploycenter-{size}.png").read_bytes() for size in make_ico.SIZES}
    assert make_ico.TARGET.read_bytes() == make_ico.ico_bytes(images), "run python3 packaging/windows/make_ico.py"
