"""One SSH connection to one front-end server, held on a private event loop thread.

asyncssh is asynchronous; the engine is not. A ``Session`` runs an event loop on a thread of
its own and offers blocking calls that any thread may make: ``run`` (one exec command, with data
on stdin) and ``shell`` (a script for the connection's long-lived remote shell). The connection is made on the
first call, reused for every call after, and made again after it was lost.

The OpenSSH client configuration is read (``~/.ssh/config``, or the file named by
``DEPLOYCENTER_SSH_CONFIG``), with its Host aliases, HostName, Port, User, IdentityFile,
UserKnownHostsFile and ProxyJump; keys come from there and from the ssh agent. Host keys are
checked strictly against the known hosts files, even where the configuration says
``UserKnownHostsFile none``. Nothing ever prompts: password and keyboard-interactive
authentication are off, and encrypted keys without an agent are skipped.

Time limits: ``connect_timeout`` covers the TCP connection, the key exchange and the
authentication; once connected, keepalives every ``keepalive_interval`` seconds detect a server
that stopped answering (``keepalive_count`` unanswered ones close the connection), and
``command_timeout`` fails a command during which no byte moved either way for that long.
Operators set the first two through ``DEPLOYCENTER_SSH_CONNECT_TIMEOUT`` and
``DEPLOYCENTER_SSH_COMMAND_TIMEOUT`` (``limits_from_env``, read when a target is made).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import shlex
import socket
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import asyncssh

from app.engine.errors import BadInputError
from app.engine.frontend.ssh_url import SshUrl

CONFIG_ENV = "DEPLOYCENTER_SSH_CONFIG"
CONNECT_TIMEOUT_ENV = "DEPLOYCENTER_SSH_CONNECT_TIMEOUT"  # seconds; Limits.connect_timeout
COMMAND_TIMEOUT_ENV = "DEPLOYCENTER_SSH_COMMAND_TIMEOUT"  # seconds; Limits.command_timeout
_MAX_SECONDS = 86_400.0
_T = TypeVar("_T")
# Fast and constant-time in OpenSSL; used first unless the configuration names its own Ciphers.
_PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
                      "aes128-ctr", "aes192-ctr", "aes256-ctr")


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


@dataclass(frozen=True)
class Completed:
    status: int | None  # the exit status; None when the command was killed by a signal
    stdout: bytes
    stderr: bytes


def config_paths() -> list[str]:
    """The OpenSSH client configuration to read: DEPLOYCENTER_SSH_CONFIG, or ~/.ssh/config if any."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        if not os.path.isfile(named):
            raise SessionError(f"the ssh configuration {named} named by {CONFIG_ENV} does not exist")
        return [named]
    default = Path("~", ".ssh", "config").expanduser()
    return [str(default)] if default.is_file() else []


class Session:
    """A connection to ``url``'s server; every method may be called from any thread."""

    def __init__(self, url: SshUrl, limits: Limits) -> None:
        asyncssh_log = logging.getLogger("asyncssh")
        if asyncssh_log.level == logging.NOTSET:
            asyncssh_log.setLevel(logging.WARNING)  # it logs every channel at INFO; errors reach us anyway
        self.url = url
        self.limits = limits
        self._pid = os.getpid()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"ssh {url.host}", daemon=True)
        self._thread.start()
        self._connection: asyncssh.SSHClientConnection | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self._why_closed: Exception | None = None  # what ended the connection, told by asyncssh
        self._control: _ControlShell | None = None

    # -- blocking calls

    def run(self, command: str, stdin: Iterable[bytes] = ()) -> Completed:
        """Run ``command`` on the server, feeding it ``stdin``; raises SessionError."""
        return self._call(lambda: self._run(command, stdin))

    def shell(self, script: str) -> Completed:
        """Run ``script`` in the connection's long-lived remote shell (no stdin); raises SessionError."""
        return self._call(lambda: self._shell(script))

    def close(self) -> None:
        """Close the connection and stop the loop thread; never raises."""
        if self._closed:
            return
        self._closed = True
        if os.getpid() == self._pid and self._thread.is_alive():
            with contextlib.suppress(Exception):  # closing must not fail; the server may be gone
                asyncio.run_coroutine_threadsafe(self._disconnect(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self._loop.close()

    def _call(self, make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        if self._closed:
            raise SessionError("the connection was closed")
        if os.getpid() != self._pid:
            raise SessionError("an SSH front-end target cannot be used in a child process; make one there")
        return asyncio.run_coroutine_threadsafe(make(), self._loop).result()

    # -- on the loop

    async def _connected(self) -> asyncssh.SSHClientConnection:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._connection is None:
                self._connection = await self._connect()
            return self._connection

    async def _connect(self) -> asyncssh.SSHClientConnection:
        paths = config_paths()
        options = _options(self.url, self.limits, paths)
        self._why_closed = None
        try:
            async with asyncio.timeout(self.limits.connect_timeout + 5):
                tunnel = await self._jump(options, paths)
                try:
                    connection = await self._open(self.url, options, paths, tunnel, _Client(self))
                except BaseException:
                    if tunnel is not None:
                        tunnel.abort()
                    raise
        except _HopFailed as failed:
            raise SessionError(f"through the jump host {failed.host}: {failed.problem}") from None
        except Exception as error:  # every failure becomes one line for the operator
            raise SessionError(_connect_problem(error, options, self.limits)) from None
        if tunnel is not None:
            connection.set_tunnel(tunnel)  # closed with the connection
        return connection

    async def _jump(
        self, options: asyncssh.SSHClientConnectionOptions, paths: list[str]
    ) -> asyncssh.SSHClientConnection | None:
        """The configuration's ProxyJump hops, each connected with the same strict options."""
        hops = str(options.config.get("ProxyJump") or "")
        if not hops or hops.lower() == "none":
            return None
        tunnel: asyncssh.SSHClientConnection | None = None
        for hop in hops.split(","):
            user, _, host = hop.strip().rpartition("@")
            host, colon, port = host.partition(":")
            url = SshUrl(host=host, path="/", user=user or None, port=int(port) if colon and port.isdigit() else None)
            hop_options = _options(url, self.limits, paths)
            try:
                connection = await self._open(url, hop_options, paths, tunnel, asyncssh.SSHClient())
            except Exception as error:
                if tunnel is not None:
                    tunnel.abort()
                raise _HopFailed(host, _connect_problem(error, hop_options, self.limits)) from None
            if tunnel is not None:
                connection.set_tunnel(tunnel)
            tunnel = connection
        return tunnel

    @staticmethod
    async def _open(
        url: SshUrl, options: asyncssh.SSHClientConnectionOptions, paths: list[str],
        tunnel: asyncssh.SSHClientConnection | None, client: asyncssh.SSHClient,
    ) -> asyncssh.SSHClientConnection:
        # tunnel=(): as the configuration says; here only for a hop the configuration routes itself.
        return await asyncssh.connect(
            url.host, url.port or (), config=paths, options=options, tunnel=tunnel or (), client_factory=lambda: client,
        )

    async def _drop(self) -> None:
        """Forget a connection that failed; the next call connects again."""
        connection, self._connection, self._control = self._connection, None, None
        if connection is not None:
            connection.abort()
            with contextlib.suppress(Exception):  # it is being cut off anyway
                await asyncio.wait_for(connection.wait_closed(), timeout=5)

    async def _disconnect(self) -> None:
        connection, self._connection, self._control = self._connection, None, None
        if connection is None:
            return
        connection.close()
        try:
            await asyncio.wait_for(connection.wait_closed(), timeout=10)
        except Exception:  # a hung server: cut it off
            connection.abort()

    async def _run(self, command: str, stdin: Iterable[bytes]) -> Completed:
        connection = await self._connected()
        try:
            process = await asyncio.wait_for(
                connection.create_process(command, encoding=None), timeout=self.limits.command_timeout
            )
            return await _Exchange(process, self.limits.command_timeout).run(stdin)
        except SessionError:
            await self._drop()
            raise
        except Exception as error:
            await self._drop()
            raise SessionError(_lost_problem(self._why_closed or error, self.limits)) from None

    async def _shell(self, script: str) -> Completed:
        connection = await self._connected()
        timeout = self.limits.command_timeout
        try:
            if self._control is None:
                process = await asyncio.wait_for(
                    connection.create_process(f"exec /bin/sh -c {shlex.quote(_CONTROL)}", encoding=None),
                    timeout=timeout,
                )
                self._control = _ControlShell(process, timeout)
            return await self._control.run(script)
        except SessionError:
            await self._drop()
            raise
        except Exception as error:
            await self._drop()
            raise SessionError(_lost_problem(self._why_closed or error, self.limits)) from None

    def closed_because(self, error: Exception | None) -> None:
        self._why_closed = error


class _HopFailed(Exception):
    def __init__(self, host: str, problem: str) -> None:
        super().__init__(problem)
        self.host = host
        self.problem = problem


class _Client(asyncssh.SSHClient):
    """Tells the session why its connection ended (a keepalive timeout, a reset, ...)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def connection_lost(self, exc: Exception | None) -> None:
        self._session.closed_because(exc)


# The long-lived remote shell: reads "<length> <token>" and a script of that length, runs it in a
# subshell, and ends its output with "=end-<token> <status>". Starting a session costs the
# login shell's start-up (its rc files) every time; this one is started once per connection.
_READY = b"=deploycenter-shell-ready\n"
_CONTROL = r"""
echo =deploycenter-shell-ready
if head -c 1 </dev/null >/dev/null 2>&1; then take() { head -c "$1"; }
else take() { dd bs=1 count="$1" 2>/dev/null; }; fi
while IFS=' ' read -r n t; do
  s=$(take "$n")
  (eval "$s") </dev/null
  echo "=end-$t $?"
done
"""


class _ControlShell:
    """One script at a time through the long-lived remote shell."""

    def __init__(self, process: asyncssh.SSHClientProcess[bytes], timeout: float) -> None:
        self.process = process
        self.timeout = timeout
        self.pending = bytearray()
        self.errors = bytearray()
        self.lock = asyncio.Lock()
        self.ready = False
        self.drain = asyncio.ensure_future(self._drain_errors())

    async def _ready(self) -> None:
        """Skip what the login shell printed before our shell started (a message of the day...)."""
        while self.ready is False:
            at = self.pending.find(_READY)
            if at >= 0:
                del self.pending[: at + len(_READY)]
                self.ready = True
                return
            await self._more()

    async def _more(self) -> None:
        try:
            chunk = await asyncio.wait_for(self.process.stdout.read(1 << 16), timeout=self.timeout)
        except TimeoutError:
            raise SessionError(_no_progress(self.timeout)) from None
        if not chunk:
            raise SessionError("the remote shell ended unexpectedly")
        self.pending += chunk

    async def run(self, script: str) -> Completed:
        async with self.lock:
            await self._ready()
            token = secrets.token_hex(8)
            data = script.encode("utf-8")
            self.errors.clear()
            self.process.stdin.write(f"{len(data)} {token}\n".encode("ascii") + data)
            await asyncio.wait_for(self.process.stdin.drain(), timeout=self.timeout)
            marker = f"=end-{token} ".encode("ascii")
            searched = 0  # the output before this offset holds no marker: look only at what is new
            while True:
                at = self.pending.find(marker, searched)
                end = self.pending.find(b"\n", at) if at >= 0 else -1
                if end >= 0:
                    break
                if at < 0:
                    searched = max(0, len(self.pending) - len(marker))
                await self._more()
            out = bytes(self.pending[:at])
            status_text = self.pending[at + len(marker):end].decode("ascii", errors="replace").strip()
            del self.pending[: end + 1]
            status = int(status_text) if status_text.isdigit() else None
            return Completed(status, out, bytes(self.errors))

    async def _drain_errors(self) -> None:
        """Keep reading the shell's stderr, so that it never blocks; kept for the current script."""
        try:
            while True:
                chunk = await self.process.stderr.read(1 << 16)
                if not chunk:
                    return
                self.errors += chunk
        except Exception:  # the connection ended; the script's caller hears why
            return


class _Exchange:
    """Feeds a command's stdin and reads its output at once; fails when nothing moves for too long."""

    def __init__(self, process: asyncssh.SSHClientProcess[bytes], timeout: float) -> None:
        self.process = process
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.moved = self.loop.time()

    async def run(self, stdin: Iterable[bytes]) -> Completed:
        feed = asyncio.ensure_future(self._feed(stdin))
        out = asyncio.ensure_future(self._read(self.process.stdout))
        err = asyncio.ensure_future(self._read(self.process.stderr))
        work = asyncio.gather(feed, out, err)
        watchdog = asyncio.ensure_future(self._watch())
        racing: set[asyncio.Future[Any]] = {work, watchdog}
        try:
            await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                watchdog.result()  # raises: nothing moved for too long
            await work
            await asyncio.wait_for(self.process.wait_closed(), timeout=self.timeout)
            return Completed(self.process.exit_status, out.result(), err.result())
        finally:
            watchdog.cancel()
            work.cancel()
            self.process.close()

    async def _feed(self, stdin: Iterable[bytes]) -> None:
        try:
            for chunk in stdin:
                self.process.stdin.write(chunk)
                await self.process.stdin.drain()
                self.moved = self.loop.time()
        except (BrokenPipeError, ConnectionResetError, asyncssh.BreakReceived):
            return  # the command stopped reading: its status and stderr say why
        self.process.stdin.write_eof()

    async def _read(self, stream: asyncssh.SSHReader[bytes]) -> bytes:
        parts: list[bytes] = []
        while True:
            chunk = await stream.read(1 << 16)
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)
            self.moved = self.loop.time()

    async def _watch(self) -> None:
        while True:
            left = self.moved + self.timeout - self.loop.time()
            if left <= 0:
                raise SessionError(_no_progress(self.timeout))
            await asyncio.sleep(left)


def _options(url: SshUrl, limits: Limits, paths: list[str]) -> asyncssh.SSHClientConnectionOptions:
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
    overrides: dict[str, Any] = {}
    if options.known_hosts is None:  # 'UserKnownHostsFile none' would turn checking off: never
        overrides["known_hosts"] = _default_known_hosts()
    if not options.config.get("Ciphers"):
        overrides["encryption_algs"] = [alg for alg in _PREFERRED_CIPHERS if alg.encode() in _ciphers()]
    if overrides:
        options = asyncssh.SSHClientConnectionOptions(options, **overrides)
    return options


def _ciphers() -> list[bytes]:
    from asyncssh.encryption import get_encryption_algs

    return list(get_encryption_algs())


def _default_known_hosts() -> str | bytes:
    default = Path("~", ".ssh", "known_hosts").expanduser()
    return str(default) if default.is_file() else b""  # no file: no key is trusted


def _where(options: asyncssh.SSHClientConnectionOptions) -> str:
    return f"{options.host} port {options.port}"


def _connect_problem(error: Exception, options: asyncssh.SSHClientConnectionOptions, limits: Limits) -> str:
    where = _where(options)
    if isinstance(error, asyncssh.HostKeyNotVerifiable):
        return _host_key_problem(options)
    if isinstance(error, asyncssh.PermissionDenied):
        return (f"authentication failed for {options.username} at {where}: the server accepted none of "
                f"the keys (passwords are never tried)")
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
    """Unknown or changed: whether the known hosts files hold any key for that host and port."""
    host = str(options.host_key_alias or options.host)
    files = options.known_hosts
    names = files if isinstance(files, list) else [files] if isinstance(files, str) else []
    known = False
    for name in names:
        try:
            keys = asyncssh.read_known_hosts(str(name)).match(host, "", options.port)
        except (OSError, ValueError):
            continue
        known = known or bool(keys[0])
    listed = ", ".join(str(name) for name in names) or "no known hosts file"
    if known:
        return (f"the host key of {host} (port {options.port}) has CHANGED: it does not match {listed}; "
                f"nothing was written (check the server, then update the known hosts file)")
    return (f"the host key of {host} (port {options.port}) is unknown: it is not in {listed}; "
            f"nothing was written (add the server's key with ssh-keyscan after checking it)")


def _no_progress(seconds: float) -> str:
    return f"no progress for {seconds:g} s (the server, or a command there, hangs); the connection is closed"


def _lost_problem(error: Exception, limits: Limits) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return _no_progress(limits.command_timeout)
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
