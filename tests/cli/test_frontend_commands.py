"""frontend list/add/remove/disable/enable/adopt and init --frontend, from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bundles import write_bundle
from tests.cli.test_commands import one_error_line
from tests.conftest import Cli


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "web1")).code == 0
    return cli


def names(cli: Cli) -> list[tuple[str, str, bool]]:
    return [(f["name"], f["kind"], f["enabled"]) for f in cli("frontend", "list", "--json").json()["frontends"]]


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("ssh://host", "no path"),
        ("ssh://host/relative/../x", "'..'"),
        ("ssh://host:0/srv", "port 0 is out of range"),
        ("ssh://host:70000/srv", "out of range"),
        ("ftp://host/srv", "unknown scheme 'ftp'"),
        ("ssh:///srv", "host"),
    ],
)
def test_a_malformed_target_is_refused_and_nothing_is_stored(env: Cli, target: str, fragment: str) -> None:
    one_error_line(env("frontend", "add", "web2", target), 2, fragment)
    assert names(env) == [("web1", "local", True)]


def test_duplicates_are_refused(env: Cli, tmp_path: Path) -> None:
    one_error_line(env("frontend", "add", "WEB1", str(tmp_path / "other")), 2, "already a front-end named web1")
    one_error_line(env("frontend", "add", "copy", str(tmp_path / "web1")), 2, "already front-end web1")
    one_error_line(env("frontend", "add", "copy", str(tmp_path / "web1" / ".." / "web1")), 2, "already front-end web1")
    assert names(env) == [("web1", "local", True)]


def test_init_refuses_a_malformed_or_repeated_target_and_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    one_error_line(cli("init", "--frontend", "ssh://h:99999/srv"), 2, "out of range")
    one_error_line(cli("init", "--frontend", str(tmp_path / "a"), "--frontend", str(tmp_path / "a")), 2, "twice")
    assert not cli.data_dir.exists()


def test_disable_drains_a_front_end_and_enable_brings_it_up_to_date(env: Cli, tmp_path: Path) -> None:
    assert env("frontend", "add", "web2", str(tmp_path / "web2"), "--health-cmd", "true").code == 0
    assert env("frontend", "disable", "web2").code == 0
    one_error_line(env("frontend", "disable", "web1"), 2, "only one enabled")
    assert env("publish", str(write_bundle(tmp_path / "b", "Orders"))).code == 0
    assert not (tmp_path / "web2" / "Orders").exists(), "a disabled front-end is not written"
    status = env("status", "--json").json()
    assert [(f["name"], f["kind"], f["enabled"]) for f in status["frontends"]] == [
        ("web1", "local", True),
        ("web2", "local", False),
    ]
    assert env("frontend", "list", "--check").code == 0, "a disabled front-end may lag behind"
    assert env("frontend", "enable", "web2").code == 0
    checked = env("frontend", "list", "--check", "--json")
    assert checked.code == 1 and [f["behind"] for f in checked.json()["frontends"]] == [0, 1]
    assert env("deploy-all").code == 0
    live = [(tmp_path / fe / "Orders" / "CURRENT").read_text() for fe in ("web1", "web2")]
    assert live[0] == live[1]
    assert env("frontend", "list", "--check").code == 0 and env("verify").code == 0


def test_remove_forgets_a_front_end_and_leaves_its_files(env: Cli, tmp_path: Path) -> None:
    assert env("frontend", "add", "web2", str(tmp_path / "web2")).code == 0
    assert env("publish", str(write_bundle(tmp_path / "b", "Orders"))).code == 0
    assert env("frontend", "remove", "web2").code == 0
    assert (tmp_path / "web2" / "Orders" / "CURRENT").is_file()
    assert names(env) == [("web1", "local", True)]
    one_error_line(env("frontend", "remove", "web1"), 2, "only one")
    one_error_line(env("frontend", "remove", "nope"), 2, "unknown front-end 'nope'")
    assert env("verify").code == 0
