"""A front-end belongs to one environment: a copied data dir cannot write into the original's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bundles import write_bundle
from tests.cli.test_commands import one_error_line
from tests.conftest import Cli


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def original(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    assert cli("publish", str(write_bundle(tmp_path / "b", "Orders", config={"MaxRows": "10"}))).code == 0
    return cli


def copy_of(original: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    target = tmp_path / "copy"
    shutil.copytree(original.data_dir, target)
    return Cli(target, capsys)


def test_a_copied_data_dir_is_refused_the_originals_front_end(
    original: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = copy_of(original, tmp_path, capsys)
    frontend = tmp_path / "fe"
    before = tree(frontend)
    two = write_bundle(tmp_path / "v2", "Orders", config={"MaxRows": "10"}, files={"v2.txt": "2"})
    for command in (
        ("publish", str(two)),
        ("deploy-all",),
        ("apply-config", "Orders", "MaxRows=5"),
        ("delete", "Orders"),
    ):
        one_error_line(copy(*command), 4, "belongs to environment", str(original.data_dir), "frontend adopt")
    assert tree(frontend) == before, "nothing was written into the original's front-end"
    assert original("publish", str(two)).code == 0, "the original still deploys there"


def test_adopt_takes_a_front_end_over(original: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = copy_of(original, tmp_path, capsys)
    assert copy("frontend", "adopt", "fe").code == 0
    assert copy("apply-config", "Orders", "MaxRows=5").code == 0
    one_error_line(original("apply-config", "Orders", "MaxRows=7"), 4, "belongs to environment", str(copy.data_dir))


def test_init_and_add_refuse_a_front_end_another_environment_owns(
    original: Cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = Cli(tmp_path / "other", capsys)
    one_error_line(other("init", "--frontend", str(tmp_path / "fe")), 4, "belongs to environment")
    assert other("init", "--frontend", str(tmp_path / "fe-other")).code == 0
    one_error_line(other("frontend", "add", "shared", str(tmp_path / "fe")), 4, "--adopt")
    assert [f["name"] for f in other("frontend", "list", "--json").json()["frontends"]] == ["fe-other"]
    assert other("frontend", "add", "shared", str(tmp_path / "fe"), "--adopt").code == 0
    one_error_line(original("deploy-all"), 4, "belongs to environment", str(other.data_dir))
