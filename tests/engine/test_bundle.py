"""Bundle loading: valid folders and zips, every refusal, and reproducible source zips."""

from __future__ import annotations

import copy
import io
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import pytest

from app.engine import bundle as bundle_module
from app.engine.blobs import read_all
from app.engine.bundle import Bundle, bundle_from_source_zip, load_bundle
from app.engine.errors import BundleError
from app.engine.manifest import MANIFEST_NAME, Manifest, parse_manifest

MANIFEST = b"""
name = "Orders"
application = "Sales"
description = "Order entry"
platform = ">=11.10"
uses = ["http.v2"]
depends = ["Customers"]

[config]
MaxRows = "100"
"""


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return root


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def bundle_dir(tmp_path: Path, manifest: bytes = MANIFEST, **extra: bytes) -> Path:
    files = {MANIFEST_NAME: manifest, "src/app.py": b"print('orders')\n", **extra}
    return write_tree(tmp_path / "Orders", files)


def refusal(path: Path) -> str:
    with pytest.raises(BundleError) as caught:
        load_bundle(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message
    assert caught.value.exit_code == 2
    return message


# ---------------------------------------------------------------- valid bundles


def test_folder_bundle_reads_manifest_and_files(tmp_path: Path) -> None:
    loaded = load_bundle(bundle_dir(tmp_path))
    assert loaded.manifest == Manifest(
        name="Orders",
        application="Sales",
        description="Order entry",
        platform=">=11.10",
        uses=("http.v2",),
        depends=("Customers",),
        config={"MaxRows": "100"},
    )
    assert list(loaded.files) == [MANIFEST_NAME, "src/app.py"]
    assert loaded.files["src/app.py"] == b"print('orders')\n"


def test_optional_keys_default(tmp_path: Path) -> None:
    loaded = load_bundle(bundle_dir(tmp_path, b'name = "Lean"\n'))
    assert loaded.manifest == Manifest(name="Lean", application="Lean")
    assert loaded.manifest.config == {} and loaded.manifest.uses == ()


def test_tool_droppings_are_ignored(tmp_path: Path) -> None:
    junk = {
        "src/__pycache__/app.cpython-311.pyc": b"x",
        "src/old.pyc": b"x",
        ".git/HEAD": b"ref",
        ".DS_Store": b"x",
        "src/.DS_Store": b"x",
    }
    assert list(load_bundle(bundle_dir(tmp_path, **junk)).files) == [MANIFEST_NAME, "src/app.py"]


def test_zip_bundle_equals_folder_bundle(tmp_path: Path) -> None:
    folder = load_bundle(bundle_dir(tmp_path))
    archive = write_zip(tmp_path / "orders.zip", {name: read_all(blob) for name, blob in folder.files.items()})
    assert load_bundle(archive) == folder
    assert load_bundle(archive).sha256 == folder.sha256


def test_zip_with_one_top_folder_is_accepted(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "o.ZIP", {"Orders/": b"", "Orders/module.toml": MANIFEST, "Orders/a.py": b"x=1\n"})
    assert list(load_bundle(archive).files) == ["a.py", MANIFEST_NAME]


def test_symlink_inside_the_bundle_is_read_as_a_file(tmp_path: Path) -> None:
    root = bundle_dir(tmp_path)
    (root / "alias.py").symlink_to(root / "src" / "app.py")
    (root / "lib").symlink_to("src")
    loaded = load_bundle(root)
    assert loaded.files["alias.py"] == loaded.files["lib/app.py"] == b"print('orders')\n"


def test_source_zip_is_reproducible_and_round_trips(tmp_path: Path) -> None:
    first = load_bundle(bundle_dir(tmp_path / "a"))
    root = bundle_dir(tmp_path / "b")
    os.utime(root / "src" / "app.py", (1_000_000, 1_000_000))  # timestamps must not matter
    second = load_bundle(root)
    assert first.source_zip_bytes() == second.source_zip_bytes()
    assert first.sha256 == second.sha256
    reloaded = bundle_from_source_zip(first.source_zip_bytes())
    assert reloaded == first and reloaded.sha256 == first.sha256


def test_source_zip_is_canonical(tmp_path: Path) -> None:
    loaded = load_bundle(bundle_dir(tmp_path))
    with zipfile.ZipFile(io.BytesIO(loaded.source_zip_bytes())) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == sorted(loaded.files)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert {info.compress_type for info in infos} == {zipfile.ZIP_DEFLATED}


def test_content_change_changes_sha(tmp_path: Path) -> None:
    first = load_bundle(bundle_dir(tmp_path / "a"))
    second = load_bundle(bundle_dir(tmp_path / "b", **{"src/app.py": b"print('other')\n"}))
    assert first.sha256 != second.sha256


def test_manifest_json_round_trip() -> None:
    manifest = parse_manifest(MANIFEST)
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert manifest.to_json()["uses"] == ["http.v2"]


def test_bundle_survives_pickle_and_deepcopy(tmp_path: Path) -> None:
    loaded = load_bundle(bundle_dir(tmp_path))
    assert pickle.loads(pickle.dumps(loaded)) == loaded
    assert copy.deepcopy(loaded.manifest) == loaded.manifest


def test_bundle_files_are_sorted_and_read_only() -> None:
    made = Bundle(manifest=Manifest(name="X"), files={"b": b"2", MANIFEST_NAME: b'name = "X"', "a": b"1"})
    assert list(made.files) == ["a", "b", MANIFEST_NAME]
    with pytest.raises(TypeError):
        made.files["c"] = b"3"  # type: ignore[index]  # the point: a Mapping takes no assignment


# ---------------------------------------------------------------- manifest refusals


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        (b'name = "X"\nname = "Y"\n', "not valid TOML: Cannot overwrite a value (at line 2"),
        (b"name = ", "not valid TOML"),
        (b"\xff\xfe name", "not UTF-8"),
        (b'description = "no name"\n', "has no 'name'"),
        (b"name = 42\n", "'name' in module.toml must be text, not a number"),
        (b'name = ""\n', "name '' in module.toml is not valid"),
        (b'name = "1st"\n', "name '1st' in module.toml is not valid"),
        (b'name = "Or ders"\n', "name 'Or ders' in module.toml is not valid"),
        (b'name = "' + b"a" * 65 + b'"\n', "is not valid: use 1-64"),
        (b'name = "X"\napplication = "-Sales"\n', "application '-Sales' in module.toml is not valid"),
        (b'name = "X"\ndescription = ["a"]\n', "'description' in module.toml must be text"),
        (b'name = "X"\nplatform = "11.19"\n', "platform '11.19' in module.toml is not a valid version specifier"),
        (b'name = "X"\nplatform = ">=eleven"\n', "is not a valid version specifier"),
        (b'name = "X"\nuses = "http.v2"\n', "'uses' in module.toml must be a list"),
        (b'name = "X"\nuses = ["a", 2]\n', "'uses' in module.toml must be a list"),
        (b'name = "X"\ndepends = {a = "b"}\n', "'depends' in module.toml must be a list"),
        (b'name = "X"\ndepends = ["../etc"]\n', "depends entry '../etc'"),
        (b'name = "Orders"\ndepends = ["orders"]\n', "lists itself in 'depends'"),
        (b'name = "X"\nconfig = "a"\n', "'config' in module.toml must be a table"),
        (b'name = "X"\n[config]\nMaxRows = 100\n', "config value 'MaxRows' in module.toml must be text"),
        (b'name = "X"\n[config.nested]\na = "b"\n', "config value 'nested'"),
        (b'name = "X"\ndepend = ["Y"]\n', "unknown key(s) 'depend'"),
    ],
)
def test_invalid_manifest_is_refused(tmp_path: Path, manifest: bytes, expected: str) -> None:
    assert expected in refusal(bundle_dir(tmp_path, manifest))


def test_oversized_manifest_is_refused(tmp_path: Path) -> None:
    manifest = b'name = "X"\n' + b"# padding\n" * 7000
    assert "larger than 64 KiB" in refusal(bundle_dir(tmp_path, manifest))


def test_manifest_with_bom_is_accepted() -> None:
    assert parse_manifest(b'\xef\xbb\xbfname = "X"\n').name == "X"


def test_missing_manifest_is_refused(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "b", {"src/app.py": b"x = 1\n"})
    assert "has no module.toml at its root" in refusal(root)


def test_reserved_name_is_refused(tmp_path: Path) -> None:
    assert ".build.json, a name Deploy Center reserves" in refusal(bundle_dir(tmp_path, **{".build.json": b"{}"}))


# ---------------------------------------------------------------- path refusals


def test_path_that_is_neither_folder_nor_zip_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "bundle.txt"
    text.write_text("hello")
    assert "neither a folder nor a .zip file" in refusal(text)
    assert "no such file or folder" in refusal(tmp_path / "missing")


def test_zip_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"this is not a zip")
    assert "is not a valid zip file" in refusal(fake)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("../evil.py", "climbs out with '..'"),
        ("src/../../evil.py", "climbs out with '..'"),
        ("/etc/evil.py", "is an absolute path"),
        ("src\\..\\evil.py", "contains a backslash"),
        ("C:/evil.py", "contains ':'"),
        ("src//evil.py", "empty or '.' path component"),
        ("./evil.py", "empty or '.' path component"),
    ],
)
def test_zip_slip_entries_are_refused(tmp_path: Path, entry: str, expected: str) -> None:
    archive = write_zip(tmp_path / "b.zip", {MANIFEST_NAME: MANIFEST, entry: b"boom"})
    assert expected in refusal(archive)


def test_zip_symlink_entry_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr(MANIFEST_NAME, MANIFEST)
        link = zipfile.ZipInfo("passwd")
        link.external_attr = 0o120777 << 16
        writer.writestr(link, "/etc/passwd")
    assert "'passwd' is a symbolic link" in refusal(archive)


def test_zip_with_duplicate_entry_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "b.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate we are making on purpose
        write_zip(archive, {MANIFEST_NAME: MANIFEST, "a.py": b"1"})
        with zipfile.ZipFile(archive, "a") as writer:
            writer.writestr("a.py", b"2")
    assert "'a.py' appears twice" in refusal(archive)


def test_names_clashing_on_other_filesystems_are_refused(tmp_path: Path) -> None:
    clash = write_zip(tmp_path / "c.zip", {MANIFEST_NAME: MANIFEST, "App.py": b"", "app.py": b""})
    assert "differ only in letter case" in refusal(clash)
    both = write_zip(tmp_path / "d.zip", {MANIFEST_NAME: MANIFEST, "lib": b"", "lib/a.py": b""})
    assert "uses 'lib' both as a file and as a folder" in refusal(both)


def test_zip_without_manifest_at_root_or_single_top_is_refused(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "b.zip", {"one/module.toml": MANIFEST, "two/a.py": b""})
    assert "has no module.toml at its root" in refusal(archive)


def test_symlink_escaping_the_bundle_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    root = bundle_dir(tmp_path)
    (root / "src" / "leak.txt").symlink_to(secret)
    assert "symbolic link src/leak.txt points outside the bundle" in refusal(root)


def test_symlinked_folder_escaping_the_bundle_is_refused(tmp_path: Path) -> None:
    root = bundle_dir(tmp_path)
    (root / "etc").symlink_to(tmp_path)
    assert "symbolic link etc points outside the bundle" in refusal(root)


def test_symlink_loop_is_refused_without_hanging(tmp_path: Path) -> None:
    root = bundle_dir(tmp_path)
    (root / "src" / "again").symlink_to(root)
    assert "symbolic link src/again leads back into a folder that contains it" in refusal(root)


def test_broken_symlink_is_refused(tmp_path: Path) -> None:
    root = bundle_dir(tmp_path)
    (root / "gone.py").symlink_to(root / "nothing.py")
    assert "symbolic link gone.py is broken" in refusal(root)


def test_special_file_is_refused(tmp_path: Path) -> None:
    root = bundle_dir(tmp_path)
    os.mkfifo(root / "pipe")  # reading it would block forever
    assert "pipe is not a regular file" in refusal(root)


def test_total_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_BYTES", 1024)
    root = bundle_dir(tmp_path, **{"big.bin": b"0" * 2048})
    assert "is larger than 0 MiB" in refusal(root)
    assert "is larger than" in refusal(write_zip(tmp_path / "b.zip", {MANIFEST_NAME: MANIFEST, "big.bin": b"0" * 2048}))


def test_file_count_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle_module, "MAX_BUNDLE_ENTRIES", 5)
    root = bundle_dir(tmp_path, **{f"data/{index}.txt": b"" for index in range(10)})
    assert "has more than 5 files and folders" in refusal(root)
