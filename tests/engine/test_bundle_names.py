"""Names a bundle may not use: a trailing newline, names Windows front-ends cannot hold, bad secret_keys."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from app.engine.bundle import load_bundle
from app.engine.errors import BundleError
from app.engine.manifest import MANIFEST_NAME, parse_manifest
from app.engine.names import is_valid_name


def refused_manifest(text: str) -> str:
    with pytest.raises(BundleError) as caught:
        parse_manifest(text.encode("utf-8"))
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)
    return str(caught.value)


def refused_zip(tmp_path: Path, entry: str) -> str:
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr(MANIFEST_NAME, 'name = "Orders"\n')
        writer.writestr(entry, b"x")
    with pytest.raises(BundleError) as caught:
        load_bundle(archive)
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)
    return str(caught.value)


# ---------------------------------------------------------------- a final newline


@pytest.mark.parametrize(
    "manifest",
    [
        'name = "Abc\\n"\n',
        'name = "Abc"\napplication = "Sales\\n"\n',
        'name = "Abc"\ndepends = ["Customers\\n"]\n',
    ],
)
def test_a_name_ending_in_a_newline_is_refused(manifest: str) -> None:
    assert "is not" in refused_manifest(manifest)


def test_name_check_is_the_whole_string() -> None:
    assert is_valid_name("Orders")
    assert not is_valid_name("Orders\n")
    assert not is_valid_name("\nOrders")


# ---------------------------------------------------------------- Windows-reserved names


@pytest.mark.parametrize(
    "name",
    ["CON", "con", "Prn", "AUX", "NUL", "COM1", "com9", "LPT1", "lpt9", "Con.Sales", "nul.txt", "Orders."],
)
def test_module_names_windows_cannot_hold_are_refused(name: str) -> None:
    message = refused_manifest(f'name = "{name}"\n')
    assert repr(name) in message and "Windows" in message


@pytest.mark.parametrize("name", ["Console", "Nullable", "COM10", "LPT0", "Auxiliary", "Con-Sales", "C0N"])
def test_names_that_only_resemble_reserved_ones_are_accepted(name: str) -> None:
    assert parse_manifest(f'name = "{name}"\n'.encode()).name == name


@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        ("con.txt", "con.txt"),
        ("static/CON", "CON"),
        ("aux/index.html", "aux"),
        ("LPT3.tar.gz", "LPT3.tar.gz"),
        ("docs/readme.", "readme."),
        ("docs /readme.txt", "docs "),
        ("notes.txt ", "notes.txt "),
        ("nul .txt", "nul .txt"),
        ("com\u00b2.log", "com\u00b2.log"),
    ],
)
def test_content_paths_windows_cannot_hold_are_refused(tmp_path: Path, entry: str, shown: str) -> None:
    message = refused_zip(tmp_path, entry)
    assert repr(shown) in message and "Windows" in message


# Control characters Windows refuses too are refused earlier, as control characters (test_bad_names).
@pytest.mark.parametrize("entry", ["what?.txt", "a|b", "x*.py", 'q"uote', "<tag>"])
def test_content_paths_with_characters_windows_refuses_are_refused(tmp_path: Path, entry: str) -> None:
    assert "Windows" in refused_zip(tmp_path, entry)


def test_content_paths_resembling_reserved_names_are_accepted(tmp_path: Path) -> None:
    archive = tmp_path / "ok.zip"
    names = ["console.py", "static/connect.js", "com10.txt", "lpt.md", ".hidden", "a.b.c"]
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr(MANIFEST_NAME, 'name = "Orders"\n')
        for name in names:
            writer.writestr(name, b"x")
    assert sorted(load_bundle(archive).files) == sorted([MANIFEST_NAME, *names])


def test_folder_bundle_with_a_reserved_file_name_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "Orders"
    (root / "static").mkdir(parents=True)
    (root / MANIFEST_NAME).write_text('name = "Orders"\n')
    (root / "static" / "prn.html").write_text("<p>")
    with pytest.raises(BundleError, match=r"prn\.html"):
        load_bundle(root)


# ---------------------------------------------------------------- secret_keys


def test_secret_keys_are_read_from_the_manifest() -> None:
    manifest = parse_manifest(b'name = "Vault"\nsecret_keys = ["Pin"]\n[config]\nPin = "1234"\nUser = "me"\n')
    assert manifest.secret_keys == ("Pin",)
    assert manifest.to_json()["secret_keys"] == ["Pin"]


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ('name = "V"\nsecret_keys = "Pin"\n[config]\nPin = "1"\n', "'secret_keys' in module.toml must be a list"),
        ('name = "V"\nsecret_keys = [1]\n[config]\nPin = "1"\n', "'secret_keys' in module.toml must be a list"),
        ('name = "V"\nsecret_keys = ["Pin"]\n', "secret_keys entry 'Pin' is not a key of [config]"),
    ],
)
def test_invalid_secret_keys_are_refused(manifest: str, expected: str) -> None:
    assert expected in refused_manifest(manifest)
