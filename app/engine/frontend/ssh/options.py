"""How Deploy Center connects over SSH, and what a failure means in words for the operator.

The time limits (``Limits``, and what ``DEPLOYCENTER_SSH_CONNECT_TIMEOUT`` and
``DEPLOYCENTER_SSH_COMMAND_TIMEOUT`` set), the OpenSSH client configuration to read, the asyncssh
options made from it (host keys always checked, as OpenSSH checks them: ``host_keys``; never a
prompt; fast ciphers first), and the one-line reasons for a connection that failed or was lost.
``ssh_session`` uses them.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncssh

from app.engine.errors import BadInputError
from app.engine.frontend.ssh.host_keys import HostKeyLookup, host_key_lookup
from app.engine.frontend.ssh.url import SshUrl

CONFIG_ENV = "DEPLOYCENTER_SSH_CONFIG"
CONNECT_TIMEOUT_ENV = "DEPLOYCENTER_SSH_CONNECT_TIMEOUT"  # seconds; Limits.connect_timeout
COMMAND_TIMEOUT_ENV = "DEPLOYCENTER_SSH_COMMAND_TIMEOUT"  # seconds; Limits.command_timeout
_MAX_SECONDS = 86_400.0
# Fast and constant-time in OpenSSL; used first unless the configuration names its own Ciphers.
_PREFERRED_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)


class SessionError(Exception):
    """What went wrong with the connection or a command, in words for the operator."""


@dataclass(frozen=True)
class Limits:
    connect_timeout: float = 20.0
    command_timeout: float = 120.0
    keepalive_interval: float = 10.0
    keepalive_count: int = 3


def limits_from_env(environ: Mapping[str, str] | None = None) -> Limits:
    """The operator's time limits: the defaults, with what the environment variables set.

    ``DEPLOYCENTER_SSH_CONNECT_TIMEOUT`` and ``DEPLOYCENTER_SSH_COMMAND_TIMEOUT`` are seconds
    (a number above 0, at most a day); anything else is a BadInputError naming the variable.
    """
    environ = os.environ if environ is None else environ
    limits = Limits()
    return replace(
        limits,
        connect_timeout=_seconds(environ, CONNECT_TIMEOUT_ENV, limits.connect_timeout),
        command_timeout=_seconds(environ, COMMAND_TIMEOUT_ENV, limits.command_timeout),
    )


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value <= _MAX_SECONDS):  # also refuses nan and inf
        raise BadInputError(f"{name}={text!r}: give a number of seconds above 0 and at most {_MAX_SECONDS:g}")
    return value


def config_paths() -> list[str]:
    """The OpenSSH client configuration to read: DEPLOYCENTER_SSH_CONFIG, or ~/.ssh/config if any."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        if not os.path.isfile(named):
            raise SessionError(f"the ssh configuration {named} named by {CONFIG_ENV} does not exist")
        return [named]
    default = Path("~", ".ssh", "config").expanduser()
    return [str(default)] if default.is_file() else []


def connection_options(url: SshUrl, limits: Limits, paths: list[str]) -> asyncssh.SSHClientConnectionOptions:
    settings: dict[str, Any] = {
        "config": paths,
        "host": url.host,
        "connect_timeout": limits.connect_timeout,
        "login_timeout": limits.connect_timeout,
        "keepalive_interval": limits.keepalive_interval,
        "keepalive_count_max": limits.keepalive_count,
        "password_auth": False,
        "kbdint_auth": False,
        "ignore_encrypted": True,
    }
    if url.port is not None:
        settings["port"] = url.port
    if url.user is not None:
        settings["username"] = url.user
    try:
        options = asyncssh.SSHClientConnectionOptions(**settings)
    except (OSError, ValueError, asyncssh.Error) as error:
        raise SessionError(f"cannot read the ssh configuration: {error}") from None
    # Host keys are looked up as OpenSSH does; 'UserKnownHostsFile none' never turns checking off.
    overrides: dict[str, Any] = {"known_hosts": host_key_lookup(options, paths, url.user, url.port)}
    if not options.config.get("Ciphers"):
        overrides["encryption_algs"] = [alg for alg in _PREFERRED_CIPHERS if alg.encode() in _ciphers()]
    return asyncssh.SSHClientConnectionOptions(options, **overrides)


def _ciphers() -> list[bytes]:
    from asyncssh.encryption import get_encryption_algs

    return list(get_encryption_algs())


def _where(options: asyncssh.SSHClientConnectionOptions) -> str:
    return f"{options.host} port {options.port}"


def connect_problem(error: Exception, options: asyncssh.SSHClientConnectionOptions, limits: Limits) -> str:
    where = _where(options)
    if isinstance(error, asyncssh.HostKeyNotVerifiable):
        return _host_key_problem(options)
    if isinstance(error, asyncssh.PermissionDenied):
        return (
            f"authentication failed for {options.username} at {where}: the server accepted none of "
            f"the keys (passwords are never tried)"
        )
    if isinstance(error, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(error, asyncio.TimeoutError):
        return f"no answer from {where} within {limits.connect_timeout:g} s (connect timeout)"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host name {options.host}: {error.strerror or error}"
    if isinstance(error, OSError):
        return f"cannot connect to {where}: {error.strerror or error}"
    if isinstance(error, asyncssh.DisconnectError):
        reason = error.reason or type(error).__name__
        if "timeout" in reason.lower():
            return f"no answer from {where} within {limits.connect_timeout:g} s (connect timeout)"
        return f"the connection to {where} failed: {reason}"
    return f"the connection to {where} failed: {error}"


def _host_key_problem(options: asyncssh.SSHClientConnectionOptions) -> str:
    """Unknown, changed, or at odds with the key known for the server's address (CheckHostIP)."""
    lookup = options.known_hosts
    assert isinstance(lookup, HostKeyLookup)  # connection_options always sets one
    host = f"{lookup.host} (port {options.port})"
    listed = ", ".join(name for name in lookup.files if os.path.isfile(name)) or "no known hosts file"
    if lookup.address_conflict:
        return (
            f"the host key of {host} differs from the key {listed} lists for the address it was reached at "
            f"(CheckHostIP is on); nothing was written (check the server, then update the known hosts file)"
        )
    if lookup.knows_host():
        return (
            f"the host key of {host} has CHANGED: it does not match {lookup.name} in {listed}; "
            f"nothing was written (check the server, then update the known hosts file)"
        )
    return (
        f"the host key of {host} is unknown: {lookup.name} is not in {listed}; "
        f"nothing was written (add the server's key with ssh-keyscan after checking it)"
    )


def no_progress(seconds: float) -> str:
    return f"no progress for {seconds:g} s (the server, or a command there, hangs); the connection is closed"


def lost_problem(error: Exception, limits: Limits) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return no_progress(limits.command_timeout)
    if isinstance(error, (asyncssh.ConnectionLost, asyncssh.DisconnectError)):
        reason = error.reason or type(error).__name__
        if "keepalive" in reason.lower():
            silent = limits.keepalive_interval * limits.keepalive_count
            return f"the server stopped answering (no reply to keepalives for {silent:g} s); the connection is closed"
        return f"the connection was lost: {reason}"
    if isinstance(error, (BrokenPipeError, ConnectionError, OSError)):
        return f"the connection was lost: {error}"
    if isinstance(error, asyncssh.ChannelOpenError):
        return f"the server refused to run a command: {error.reason}"
    return f"the connection failed: {type(error).__name__}: {error}"
