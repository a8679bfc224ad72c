"""The resource locator, and the wheel's package list that ships the resources."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from app import paths
from app.paths import resource, resources_dir

REPO = Path(__file__).resolve().parent.parent


def test_checkout_finds_the_top_level_resources_folder() -> None:
    assert resources_dir() == REPO / "resources"


def test_resource_joins_parts() -> None:
    assert resource("icons", "deployed.svg") == REPO / "resources" / "icons" / "deployed.svg"
    assert resource("catalog.json").is_file()


def test_pyinstaller_bundle_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert resources_dir() == tmp_path / "resources"


def test_installed_package_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "app"
    (package / "_resources").mkdir(parents=True)
    monkeypatch.setattr(paths, "_PACKAGE_DIR", package)
    assert resources_dir() == package / "_resources"


def test_missing_resources_name_the_places_tried(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paths, "_PACKAGE_DIR", tmp_path / "app")
    with pytest.raises(FileNotFoundError, match="_resources"):
        resources_dir()


def test_every_package_under_app_ships_in_the_wheel() -> None:
    """pyproject lists the packages by hand (see there why); a forgotten one would not install."""
    settings = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(settings["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(folder.relative_to(REPO).parts)
        for folder in [REPO / "app", *(REPO / "app").rglob("*")]
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py"))
    }
    missing = sorted(on_disk - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


STATUSES = (
    "pending",
    "deploying",
    "deployed",
    "failed",
    "blocked",
    "skipped",
    "cancelled",
    "running",
    "succeeded",
    "interrupted",
)


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_has_an_icon(status: str) -> None:
    for name in (f"{status}.svg", f"{status}-16.png", f"{status}-32.png"):
        assert resource("icons", name).is_file(), name


def test_app_icon_has_every_size() -> None:
    for size in (16, 32, 48, 64, 128, 256):
        assert resource("icons", f"deploycenter-{size}.png").is_file()
