"""Publishing bundles whose names a front-end cannot hold: refused with exit 2, nothing stored or written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bundles import write_bundle, write_raw_zip
from tests.cli.test_commands import one_error_line
from tests.conftest import Cli


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    return cli


def bundle_named(root: Path, toml_name: str) -> Path:
    folder = write_bundle(root, "Bundle")
    (folder / "module.toml").write_text(f'name = "{toml_name}"\n', encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("toml_name", "shown"),
    [("Abc\\n", "'Abc\\n'"), ("NUL", "'NUL'"), ("com3.Sales", "'com3.Sales'"), ("Orders.", "'Orders.'")],
)
def test_publish_refuses_names_a_front_end_cannot_hold(env: Cli, tmp_path: Path, toml_name: str, shown: str) -> None:
    one_error_line(env("publish", str(bundle_named(tmp_path / "b", toml_name))), 2, shown)
    assert env("modules", "--json").json()["modules"] == []
    assert env("runs", "--json").json()["runs"] == []
    assert [p.name for p in (tmp_path / "fe").iterdir()] == [".deploycenter-owner"], "no module folder was made"


def test_publish_refuses_a_reserved_content_path(env: Cli, tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", "Orders", files={"static/con.css": "body {}\n"})
    one_error_line(env("publish", str(folder)), 2, "'static/con.css'", "Windows")
    assert env("modules", "--json").json()["modules"] == []
    assert [p.name for p in (tmp_path / "fe").iterdir()] == [".deploycenter-owner"], "no module folder was made"


def stored_files(data_dir: Path) -> list[Path]:
    return sorted(path for path in (data_dir / "artifacts").rglob("*") if path.is_file())


@pytest.mark.parametrize(
    ("entries", "shown"),
    [
        (["a\x00QQb.txt"], "'a\\x00QQb.txt'"),
        (["cfg\x00one", "cfg\x00two"], "'cfg\\x00one'"),
        (["src/tab\there.py"], "'src/tab\\there.py'"),
        (["line\nbreak.py"], "'line\\nbreak.py'"),
        (["esc\x1b[31m.txt"], "'esc\\x1b[31m.txt'"),
        (["rub\x7fout.txt"], "'rub\\x7fout.txt'"),
        (["next\x85line.txt"], "'next\\x85line.txt'"),
    ],
)
def test_publish_refuses_zip_entries_with_control_characters(
    env: Cli, tmp_path: Path, entries: list[str], shown: str
) -> None:
    stored = stored_files(env.data_dir)
    manifest = b'name = "Orders"\n'
    archive = write_raw_zip(tmp_path / "b.zip", {"module.toml": manifest, **dict.fromkeys(entries, b"x = 1\n")})
    one_error_line(env("publish", str(archive)), 2, f"zip entry {shown}", "control character")
    assert env("modules", "--json").json()["modules"] == []
    assert env("runs", "--json").json()["runs"] == []
    assert stored_files(env.data_dir) == stored, "nothing was stored"
    assert [p.name for p in (tmp_path / "fe").iterdir()] == [".deploycenter-owner"], "no module folder was made"


def test_publish_refuses_a_folder_bundle_file_named_with_a_control_character(env: Cli, tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b", "Orders", files={"src/bell\x07.py": "x = 1\n"})
    one_error_line(env("publish", str(folder)), 2, "'src/bell\\x07.py'", "control character")
    assert env("modules", "--json").json()["modules"] == []
