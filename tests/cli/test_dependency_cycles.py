"""A dependency cycle is refused at the publish that would close it: exit 2, the cycle named, nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bundles import write_bundle
from tests.cli.test_commands import one_error_line
from tests.conftest import Cli


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "fe")).code == 0
    return cli


def versions(cli: Cli) -> dict[str, int]:
    return {m["name"]: m["latest_version"] for m in cli("modules", "--json").json()["modules"]}


def test_a_cycle_closed_across_publishes_is_refused(env: Cli, tmp_path: Path) -> None:
    assert env("publish", str(write_bundle(tmp_path / "v1", "Alpha"))).code == 0
    assert env("publish", str(write_bundle(tmp_path / "v1", "Beta", depends=["Alpha"]))).code == 0
    before = env("runs", "--json").json()["runs"]
    stored = sorted((env.data_dir / "artifacts").rglob("*.zip"))
    closing = write_bundle(tmp_path / "v2", "Alpha", depends=["Beta"])
    one_error_line(env("publish", str(closing)), 2, "dependency cycle: Alpha -> Beta -> Alpha")
    assert versions(env) == {"Alpha": 1, "Beta": 1}
    assert env("runs", "--json").json()["runs"] == before
    assert sorted((env.data_dir / "artifacts").rglob("*.zip")) == stored, "no source zip was stored for it"
    assert env("upgrade", "--to", "11.19.0").code == 0, "the environment stays upgradable"


def test_a_longer_cycle_is_named_in_full(env: Cli, tmp_path: Path) -> None:
    b = tmp_path / "b"
    assert env("publish", str(write_bundle(b, "Ledger"))).code == 0
    assert env("publish", str(write_bundle(b, "Invoices", depends=["Ledger"]))).code == 0
    assert env("publish", str(write_bundle(b, "Orders", depends=["Invoices"]))).code == 0
    closing = write_bundle(tmp_path / "v2", "ledger", depends=["orders"])
    one_error_line(env("publish", str(closing)), 2, "dependency cycle: ledger -> Orders -> Invoices -> ledger")


def test_a_cycle_within_one_publish_is_refused(env: Cli, tmp_path: Path) -> None:
    b = tmp_path / "b"
    first = write_bundle(b, "Alpha", depends=["Beta"])
    second = write_bundle(b, "Beta", depends=["Alpha"])
    one_error_line(env("publish", str(first), str(second)), 2, "dependency cycle: Alpha -> Beta -> Alpha")
    assert versions(env) == {}


def test_dependencies_without_a_cycle_still_publish(env: Cli, tmp_path: Path) -> None:
    b = tmp_path / "b"
    assert env("publish", str(write_bundle(b, "Base"))).code == 0
    diamond = [
        write_bundle(b, "Left", depends=["Base"]),
        write_bundle(b, "Right", depends=["Base"]),
        write_bundle(b, "Top", depends=["Left", "Right"]),
    ]
    assert env("publish", *map(str, diamond)).code == 0
    assert env("publish", str(write_bundle(tmp_path / "v2", "Base", depends=["Missing"]))).code == 1
    assert versions(env) == {"Base": 2, "Left": 1, "Right": 1, "Top": 1}


def test_a_deleted_module_closes_no_cycle(env: Cli, tmp_path: Path) -> None:
    b = tmp_path / "b"
    assert env("publish", str(write_bundle(b, "Alpha"))).code == 0
    assert env("publish", str(write_bundle(b, "Beta", depends=["Alpha"]))).code == 0
    assert env("delete", "Beta").code == 0
    result = env("publish", str(write_bundle(tmp_path / "v2", "Alpha", depends=["Beta"])))
    assert result.code == 1, "Beta does not exist any more: a compile failure, not a cycle"
    assert "cycle" not in result.err + result.out
