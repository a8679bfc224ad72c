"""frontend add|set with drain, undrain and health hooks: stored when they can run, refused otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_commands import one_error_line
from tests.conftest import Cli


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "web1")).code == 0
    return cli


def frontend(cli: Cli, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in cli("frontend", "list", "--json").json()["frontends"] if f["name"] == name)
    return found


def test_hooks_are_set_listed_and_cleared(env: Cli, tmp_path: Path) -> None:
    added = env(
        "frontend",
        "add",
        "web2",
        str(tmp_path / "web2"),
        "--drain-cmd",
        "echo 'disable server be/web2' | socat stdio /run/haproxy.sock",
        "--health-url",
        "https://web2.example/health/{module}",
        "--json",
    )
    assert added.code == 0, added.err
    assert added.json()["frontend"]["drain_cmd"] == "echo 'disable server be/web2' | socat stdio /run/haproxy.sock"

    changed = env(
        "frontend", "set", "web2", "--undrain-cmd", "true", "--health-timeout", "2.5", "--clear", "health-url"
    )
    assert changed.code == 0, changed.err
    assert "undrain: true" in changed.out and "health timeout: 2.5 s" in changed.out
    web2 = frontend(env, "web2")
    assert (web2["undrain_cmd"], web2["health_timeout"], web2["health_url"]) == ("true", 2.5, None)
    assert web2["drain_cmd"].startswith("echo 'disable server be/web2'")
    assert web2["drained_by"] is None
    assert env("status", "--json").json()["drained"] == []


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--drain-cmd", "   "], "--drain-cmd needs a command"),
        (["--undrain-cmd", "if true; then echo"], "--undrain-cmd is not a command the shell can run"),
        (["--health-cmd", "echo 'unclosed"], "--health-cmd is not a command the shell can run"),
        (["--drain-cmd", "echo a\necho b"], "on one line"),
        (["--health-url", "ftp://web1/health"], "must be an http:// or https:// URL"),
        (["--health-url", "http://web1:99999/"], "does not parse"),
        (["--health-url", "http:///health"], "names no host"),
        (["--health-url", "http://web1/{host}/health"], "the only placeholders are {frontend} and {module}"),
        (["--health-url", "web1/health"], "must be an http:// or https:// URL"),
        (["--health-timeout", "-1"], "--health-timeout"),
        (["--health-timeout", "0"], "--health-timeout takes a number of seconds above 0"),
        (["--health-timeout", "soon"], "--health-timeout"),
        (["--clear", "drain-cmd", "--drain-cmd", "true"], "--drain-cmd is both given and cleared"),
        (["--clear", "everything"], "invalid choice"),
        ([], "say what to change"),
    ],
)
def test_a_hook_that_cannot_be_used_is_refused_and_nothing_is_stored(
    env: Cli, options: list[str], fragment: str
) -> None:
    before = frontend(env, "web1")
    one_error_line(env("frontend", "set", "web1", *options), 2, fragment)
    assert frontend(env, "web1") == before


def test_add_refuses_a_bad_hook_before_storing_the_front_end(env: Cli, tmp_path: Path) -> None:
    refused = env("frontend", "add", "web2", str(tmp_path / "web2"), "--health-url", "gopher://web2/", "--json")
    one_error_line(refused, 2, "--health-url")
    assert refused.json() == {"error": refused.err.strip().removeprefix("deploycenter: error: "), "exit_code": 2}
    assert [f["name"] for f in env("frontend", "list", "--json").json()["frontends"]] == ["web1"]
    assert not (tmp_path / "web2").exists() or not any((tmp_path / "web2").iterdir())
