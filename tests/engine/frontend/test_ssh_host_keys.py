"""Host keys are checked as OpenSSH checks them: the same known_hosts and configuration let the same
servers in, on the suite's own sshd, side by side with the real ``ssh`` client.

OpenSSH looks a key up under ``HostKeyAlias`` or the real host name (``HostName``) with its port,
never under the address it reached; ``CheckHostIP`` only ever refuses more (its address check is
off for loopback servers: ``test_ssh_host_key_lookup`` tests it away from them).
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from app.engine.frontend.target import FrontendError
from tests.engine.frontend.conftest import MakeTarget
from tests.sshd import ONE_WORKER, Farm, SshServer, keygen, unavailable

pytestmark = ONE_WORKER  # its sshd servers' time limits want the CPU to themselves

# A scenario: the Host block's own lines, and the known_hosts lines for a server key and port.
Lines = Callable[[str, str, int], list[str]]


def public(line: str) -> str:
    return " ".join(line.split()[:2])


SCENARIOS: dict[str, tuple[str, Lines, bool]] = {
    "HostName is the address, keyed by address": (
        "HostName 127.0.0.1",
        lambda key, other, port: [f"[127.0.0.1]:{port} {key}"],
        True,
    ),
    "HostName is a name, keyed by its address only": (
        "HostName localhost",
        lambda key, other, port: [f"[127.0.0.1]:{port} {key}"],
        False,
    ),
    "HostName is a name, keyed by its address, CheckHostIP yes": (
        "HostName localhost\n  CheckHostIP yes",
        lambda key, other, port: [f"[127.0.0.1]:{port} {key}"],
        False,
    ),
    "HostName is a name, keyed by that name": (
        "HostName localhost",
        lambda key, other, port: [f"[localhost]:{port} {key}"],
        True,
    ),
    "keyed by the Host alias only": (
        "HostName 127.0.0.1",
        lambda key, other, port: [f"[srv1]:{port} {key}"],
        False,
    ),
    "HostKeyAlias, keyed by address": (
        "HostName 127.0.0.1\n  HostKeyAlias web-a",
        lambda key, other, port: [f"[127.0.0.1]:{port} {key}"],
        False,
    ),
    "HostKeyAlias, keyed by the alias": (
        "HostName 127.0.0.1\n  HostKeyAlias Web-A",
        lambda key, other, port: [f"web-a {key}"],
        True,
    ),
    "HostKeyAlias, keyed by the alias with the port": (
        "HostName 127.0.0.1\n  HostKeyAlias web-a",
        lambda key, other, port: [f"[web-a]:{port} {key}"],
        False,
    ),
    "keyed without the port": (
        "HostName localhost",
        lambda key, other, port: [f"localhost {key}"],
        True,
    ),
    "another key with the port, the right one without": (
        "HostName localhost",
        lambda key, other, port: [f"[localhost]:{port} {other}", f"localhost {key}"],
        False,
    ),
}


def openssh_accepts(ssh_farm: Farm) -> bool:
    """Whether the real ``ssh`` client, strict and never asking, logs in with the farm's files."""
    if shutil.which("ssh") is None:
        unavailable("the ssh client is missing")
    command = ["ssh", "-F", str(ssh_farm.config), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
    done = subprocess.run([*command, "srv1", "true"], capture_output=True, timeout=60, check=False)
    return done.returncode == 0


def we_accept(make_target: MakeTarget, server: SshServer, folder: Path) -> bool:
    try:
        make_target(server.url(folder)).check()
    except FrontendError as error:
        assert "host key" in str(error), error  # refused for its key, not for anything else
        return False
    return True


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_same_servers_get_in_as_with_openssh(
    ssh_farm: Farm, server: SshServer, make_target: MakeTarget, tmp_path: Path, scenario: str
) -> None:
    host_lines, known, accepted = SCENARIOS[scenario]
    other = public(keygen(tmp_path / "other", "another server"))
    ssh_farm.config.write_text(
        f"Host srv1\n  {host_lines}\n  Port {server.port}\n  User {getpass.getuser()}\n"
        f"  IdentityFile {ssh_farm.client_key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {ssh_farm.known_hosts}\n"
    )
    ssh_farm.known_hosts.write_text(
        "".join(f"{line}\n" for line in known(public(server.host_key_line), other, server.port))
    )
    folder = server.folder("front")

    assert openssh_accepts(ssh_farm) is accepted, "the scenario's expectation is OpenSSH's own"
    assert we_accept(make_target, server, folder) is accepted
    assert not any(folder.iterdir()), "nothing is written"


def test_a_hashed_entry_for_the_name_is_found(ssh_farm: Farm, server: SshServer, make_target: MakeTarget) -> None:
    ssh_farm.config.write_text(ssh_farm.config.read_text().replace("HostName 127.0.0.1", "HostName localhost"))
    ssh_farm.known_hosts.write_text(f"[localhost]:{server.port} {public(server.host_key_line)}\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(ssh_farm.known_hosts)], capture_output=True, check=True, timeout=60)
    assert ssh_farm.known_hosts.read_text().startswith("|1|")
    assert openssh_accepts(ssh_farm)
    assert we_accept(make_target, server, server.folder("front"))


def test_an_alias_keyed_only_by_address_is_refused_naming_what_was_looked_up(
    ssh_farm: Farm, server: SshServer, make_target: MakeTarget
) -> None:
    ssh_farm.config.write_text(ssh_farm.config.read_text().replace("HostName 127.0.0.1", "HostName localhost"))
    with pytest.raises(FrontendError) as refused:
        make_target(server.url(server.folder("front"))).check()
    message = str(refused.value)
    assert f"the host key of localhost (port {server.port}) is unknown" in message
    assert f"[localhost]:{server.port} is not in {ssh_farm.known_hosts}" in message
