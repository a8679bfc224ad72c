"""``HostKeyLookup``, the keys a connection trusts, away from the loopback servers of the suite:
``CheckHostIP`` (which OpenSSH turns off for a loopback address) with documentation addresses that
are only ever given to the lookup, where it is read from, and which known hosts files count.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.engine.frontend.ssh.host_keys import GLOBAL_FILES, HostKeyLookup, known_hosts_files
from app.engine.frontend.ssh.options import config_paths, connection_options
from app.engine.frontend.ssh.url import parse_ssh_url
from tests.engine.frontend.conftest import FAST
from tests.engine.frontend.test_ssh_host_keys import public
from tests.sshd import ONE_WORKER, Farm, SshServer, keygen

pytestmark = ONE_WORKER  # its sshd servers' time limits want the CPU to themselves

ADDRESS = "192.0.2.10"  # a documentation address: only ever given to the lookup, never connected to


def lookup(known_hosts: Path, *, check_ip: bool = True, port: int = 22) -> HostKeyLookup:
    return HostKeyLookup((str(known_hosts),), "web1.example", port, False, "web1.example", check_ip)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[str, str, str]:
    """Two ed25519 public keys and one ECDSA key, as known_hosts writes them."""
    first = public(keygen(tmp_path / "first", "first"))
    second = public(keygen(tmp_path / "second", "second"))
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-C", "ec", "-f", str(tmp_path / "ec")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return first, second, public((tmp_path / "ec.pub").read_text())


def trusted(found: HostKeyLookup, addr: str = ADDRESS) -> list[str]:
    keys, _authorities, _revoked = found("web1.example", addr, None)
    return [key.export_public_key("openssh").decode().split()[1] for key in keys]


def test_check_host_ip_refuses_a_key_when_the_address_lists_another_of_its_type(
    tmp_path: Path, keys: tuple[str, str, str]
) -> None:
    first, second, _ec = keys
    known = tmp_path / "known_hosts"
    known.write_text(f"web1.example {first}\n{ADDRESS} {second}\n")
    found = lookup(known)
    assert trusted(found) == [] and found.address_conflict
    assert trusted(lookup(known, check_ip=False)) == [first.split()[1]], "off (the default): the name alone counts"
    assert trusted(lookup(known), addr="127.0.0.1") == [first.split()[1]], "off for a loopback address"


def test_check_host_ip_keeps_a_key_the_address_agrees_with_or_knows_nothing_of(
    tmp_path: Path, keys: tuple[str, str, str]
) -> None:
    first, _second, ec = keys
    known = tmp_path / "known_hosts"
    known.write_text(f"web1.example {first}\n{ADDRESS} {first}\n")
    assert trusted(lookup(known)) == [first.split()[1]]
    known.write_text(f"web1.example {first}\n{ADDRESS} {ec}\n")  # no ed25519 key for the address
    found = lookup(known)
    assert trusted(found) == [first.split()[1]] and not found.address_conflict
    known.write_text(f"{ADDRESS} {first}\n")
    assert trusted(lookup(known)) == [], "the address never lets a key in on its own"


def test_check_host_ip_is_read_from_the_configuration_and_off_through_a_jump_host(
    ssh_farm: Farm, server: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def made(extra: str) -> HostKeyLookup:
        ssh_farm.config.write_text(
            ssh_farm.config.read_text().split("  CheckHostIP")[0].split("  ProxyJump")[0] + extra
        )
        options = connection_options(parse_ssh_url("ssh://srv1/srv"), FAST, config_paths())
        assert isinstance(options.known_hosts, HostKeyLookup)
        return options.known_hosts

    assert not made("").check_ip, "OpenSSH's default is no"
    assert made("  CheckHostIP yes\n").check_ip
    assert not made("  CheckHostIP yes\n  ProxyJump nobody@127.0.0.1:1\n").check_ip


def test_the_known_hosts_files_are_openssh_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    home = str(tmp_path)
    defaults = (f"{home}/.ssh/known_hosts", f"{home}/.ssh/known_hosts2", *GLOBAL_FILES)
    assert known_hosts_files(None, None) == defaults
    assert known_hosts_files([], None) == defaults, "'UserKnownHostsFile none' never turns checking off"
    assert known_hosts_files(["/k"], []) == ("/k",)
