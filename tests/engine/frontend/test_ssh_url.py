"""Front-end TARGETs: what ssh:// targets parse to, what each malformed one is refused with, and local folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.errors import BadInputError
from app.engine.frontend.kinds import FrontendKind, parse_target
from app.engine.frontend.ssh.url import SshUrl, is_ssh_target, parse_ssh_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssh://web1/srv/front", SshUrl(host="web1", path="/srv/front")),
        ("ssh://deploy@web1/srv/front/", SshUrl(host="web1", path="/srv/front", user="deploy")),
        ("ssh://deploy@10.0.0.7:2222/srv/f", SshUrl(host="10.0.0.7", path="/srv/f", user="deploy", port=2222)),
        ("ssh://[::1]:22/srv/f", SshUrl(host="::1", path="/srv/f", port=22)),
        ("ssh://[fe80::1]/srv/f", SshUrl(host="fe80::1", path="/srv/f")),
        ("SSH://web-1.example.org/a/b_c/d.e+f@g,h=i", SshUrl(host="web-1.example.org", path="/a/b_c/d.e+f@g,h=i")),
        ("ssh://web1:65535/x", SshUrl(host="web1", path="/x", port=65535)),
    ],
)
def test_good_targets_parse(text: str, expected: SshUrl) -> None:
    assert parse_ssh_url(text) == expected
    assert parse_target(text) == (FrontendKind.SSH, str(expected))


def test_a_parsed_target_prints_back_in_one_spelling() -> None:
    assert str(parse_ssh_url("ssh://u@h:2200/srv/f/")) == "ssh://u@h:2200/srv/f"
    assert str(parse_ssh_url("ssh://[::1]/srv/f")) == "ssh://[::1]/srv/f"
    assert str(parse_ssh_url("ssh://h/srv")) == "ssh://h/srv"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ssh://web1", "no path"),
        ("ssh://web1/", "root folder"),
        ("ssh://web1:srv/front", "relative path"),
        ("ssh://web1/~/front", "home folder"),
        ("ssh://web1:0/srv", "out of range"),
        ("ssh://web1:65536/srv", "out of range"),
        ("ssh://web1:/srv", "nothing after ':'"),
        ("ssh://web1:22x/srv", "not a number"),
        ("ssh:///srv/front", "empty host"),
        ("ssh://@web1/srv", "bad user name"),
        ("ssh://u:pw@web1/srv", "password"),
        ("ssh://-oProxyCommand=x/srv", "bad host name"),
        ("ssh://web1/srv/-rf", "starts with '-'"),
        ("ssh://web1/srv/../etc", "'..' in the path"),
        ("ssh://web1/srv//front", "empty segment"),
        ("ssh://web1//srv", "single /"),
        ("ssh://web1/srv/my front", "' '"),
        ("ssh://web1/srv/$(reboot)", "character(s)"),
        ("ssh://web1/srv/a'b", "character(s)"),
        ("ssh://web1/srv/a\\b", "character(s)"),
        ("ssh://web1/srv/a*", "character(s)"),
        ("ssh://web1/srv/a%20b", "character(s)"),
        ("ssh://web1/srv/a\nb", "control character"),
        ("ssh://web1/srv?x=1", "query"),
        ("ssh://[::1/srv", "unclosed"),
        ("ssh://[web1]/srv", "not an IPv6 address"),
        ("ssh://[::1]x/srv", "unexpected"),
    ],
)
def test_malformed_targets_are_refused_with_one_line(text: str, says: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_target(text)
    message = str(caught.value)
    assert says in message
    assert "\n" not in message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("text", ["sftp://web1/srv", "http://web1/srv", "file:///srv/front"])
def test_unknown_schemes_are_refused(text: str) -> None:
    with pytest.raises(BadInputError, match="unknown scheme"):
        parse_target(text)


@pytest.mark.parametrize("text", ["/srv/front", "relative/front", "C:\\front", "./front", "host:dir"])
def test_anything_else_is_a_local_folder(text: str) -> None:
    assert not is_ssh_target(text)
    assert parse_target(text) == (FrontendKind.LOCAL, str(Path(text).absolute()))


def test_an_empty_target_is_refused() -> None:
    with pytest.raises(BadInputError, match="empty"):
        parse_target("  ")
