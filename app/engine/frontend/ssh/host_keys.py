"""Which host keys an SSH connection trusts: OpenSSH's rules, so that a farm set up for ``ssh`` is
checked here exactly as ``ssh`` checks it.

OpenSSH looks a server's key up under one name: ``HostKeyAlias`` when the configuration gives one
(as it is, lower-cased), else the real host name (``HostName``, or the host of the target) written
``[name]:port`` for a port other than 22, where a key type with no entry for that port is looked
up under the bare name. The address the connection reached never makes a key trusted. (asyncssh,
left to itself, also trusts a key listed under that address, or under the alias with a port: an
alias whose name resolves to an address listed in known_hosts got in where ``ssh`` refuses it.)

``CheckHostIP yes`` (``no`` is OpenSSH's default) adds a check, never a way in: a key listed for
the name is refused when the known hosts files list another key of its type for the address
reached. As in OpenSSH, it is skipped for a loopback address, a host given by that very address,
and a connection through a jump host or a proxy command.

The files are OpenSSH's: ``UserKnownHostsFile`` (by default ``~/.ssh/known_hosts`` and
``~/.ssh/known_hosts2``; ``none`` never turns checking off here, it means the default) and
``GlobalKnownHostsFile`` (by default ``/etc/ssh/ssh_known_hosts`` and ``..._known_hosts2``). A file
that does not exist holds no key.
"""

from __future__ import annotations

import getpass
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh
from asyncssh.config import SSHClientConfig, SSHConfig

DEFAULT_PORT = 22
USER_FILES = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
GLOBAL_FILES = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")

KeyLists = tuple[list[asyncssh.SSHKey], list[asyncssh.SSHKey], list[asyncssh.SSHKey]]


class _ClientConfig(SSHClientConfig):
    """asyncssh's reading of the client configuration, which also keeps ``CheckHostIP``."""

    _handlers = {  # noqa: RUF012  # asyncssh declares it a plain attribute and never changes it
        **SSHClientConfig._handlers,
        "checkhostip": ("CheckHostIP", SSHConfig._set_bool),
    }


@dataclass
class HostKeyLookup:
    """The keys one connection trusts; asyncssh calls it with the address it reached.

    ``host`` is the name looked up (the alias when ``aliased``, else the real host name) and
    ``real_host`` the real host name. ``address_conflict`` is left True by a call that refused a
    key because another one is known for the address: what the error then says.
    """

    files: tuple[str, ...]
    host: str
    port: int
    aliased: bool
    real_host: str
    check_ip: bool
    address_conflict: bool = field(default=False, compare=False)

    @property
    def name(self) -> str:
        """The name as it is looked up in the known hosts files."""
        return self.host if self.aliased else _with_port(self.host, self.port)

    def __call__(self, host: str, addr: str, port: int | None) -> KeyLists:
        known = read_known_hosts(self.files)
        trusted, authorities, revoked = _lookup(known, self.host, None if self.aliased else self.port)
        self.address_conflict = False
        if self._checks_address(addr):
            at_address, _, _ = _lookup(known, addr, self.port)
            agreeing = [key for key in trusted if _agrees(key, at_address)]
            self.address_conflict = len(agreeing) < len(trusted)
            trusted = agreeing
        return trusted, authorities, revoked

    def knows_host(self) -> bool:
        """Whether any key is listed for the host's name (then a refused key has changed)."""
        trusted, authorities, _ = _lookup(read_known_hosts(self.files), self.host, None if self.aliased else self.port)
        return bool(trusted or authorities)

    def _checks_address(self, addr: str) -> bool:
        if not self.check_ip or not addr or addr == self.real_host:
            return False
        try:
            return not ipaddress.ip_address(addr).is_loopback
        except ValueError:
            return False


def host_key_lookup(
    options: asyncssh.SSHClientConnectionOptions, paths: Sequence[str], user: str | None, port: int | None
) -> HostKeyLookup:
    """The lookup for a connection made with ``options``, read from the configuration files
    ``paths`` with the target's own ``user`` and ``port``."""
    config = options.config
    alias = options.host_key_alias
    real_host = _lowered(str(options.host))
    proxied = any(_is_set(config.get(option)) for option in ("ProxyJump", "ProxyCommand"))
    return HostKeyLookup(
        files=known_hosts_files(config.get("UserKnownHostsFile"), config.get("GlobalKnownHostsFile")),
        host=alias.lower() if alias else real_host,
        port=int(options.port),
        aliased=alias is not None,
        real_host=real_host,
        check_ip=not proxied and _check_host_ip(paths, str(options.orig_host), user, port),
    )


def known_hosts_files(user: object, system: object) -> tuple[str, ...]:
    """The files OpenSSH would read, from the configuration's values (None: not set; []: none)."""
    users = list(user) if isinstance(user, list) and user else list(USER_FILES)
    systems = list(system) if isinstance(system, list) else list(GLOBAL_FILES)
    return tuple(str(Path(name).expanduser()) for name in [*users, *systems])


def read_known_hosts(files: Sequence[str]) -> asyncssh.SSHKnownHosts:
    """Every entry of ``files``; a file that is missing or cannot be read adds none."""
    known = asyncssh.SSHKnownHosts()
    for name in files:
        try:
            text = Path(name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        known.load(text)
    return known


def _lookup(known: asyncssh.SSHKnownHosts, host: str, port: int | None) -> KeyLists:
    """The keys, authorities and revoked keys listed for ``host``, OpenSSH's way: under
    ``[host]:port`` for a port other than 22, then, for a key type found there under no entry,
    under the bare name; ``port`` None: under ``host`` as it is (an alias)."""
    if port is None or port == DEFAULT_PORT:
        keys, authorities, revoked = known.match(host, "", None)[:3]
        return list(keys), list(authorities), list(revoked)
    keys, authorities, revoked = known.match(_with_port(host, port), "", None)[:3]
    bare_keys, bare_authorities, bare_revoked = known.match(host, "", None)[:3]
    types = {key.algorithm for key in keys}
    return (
        [*keys, *(key for key in bare_keys if key.algorithm not in types)],
        list(authorities or bare_authorities),
        [*revoked, *bare_revoked],
    )


def _agrees(key: asyncssh.SSHKey, at_address: Sequence[asyncssh.SSHKey]) -> bool:
    """Whether the address's entries allow ``key``: they list it, or no key of its type."""
    return key in at_address or all(other.algorithm != key.algorithm for other in at_address)


def _check_host_ip(paths: Sequence[str], host: str, user: str | None, port: int | None) -> bool:
    """``CheckHostIP`` as the configuration files set it for this host (OpenSSH's default: no)."""
    config = _ClientConfig.load(None, list(paths), False, False, False, getpass.getuser(), user or (), host, port or ())
    return bool(config.get("CheckHostIP", False))


def _with_port(host: str, port: int) -> str:
    return host if port == DEFAULT_PORT else f"[{host}]:{port}"


def _lowered(host: str) -> str:
    """OpenSSH lower-cases a host name, not an address."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host.lower()
    return host


def _is_set(value: object) -> bool:
    return bool(value) and str(value).lower() != "none"
