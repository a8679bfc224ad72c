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
import os
import secrets
import shlex
import threading
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncssh

from app.engine.frontend.ssh.options import (
    Limits,
    SessionError,
    config_paths,
    connect_problem,
    connection_options,
    lost_problem,
    no_progress,
)
from app.engine.frontend.ssh.url import SshUrl

_T = TypeVar("_T")


@dataclass(frozen=True)
class Completed:
    status: int | None  # the exit status; None when the command was killed by a signal
    stdout: bytes
    stderr: bytes


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
        options = connection_options(self.url, self.limits, paths)
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
            raise SessionError(connect_problem(error, options, self.limits)) from None
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
            hop_options = connection_options(url, self.limits, paths)
            try:
                connection = await self._open(url, hop_options, paths, tunnel, asyncssh.SSHClient())
            except Exception as error:
                if tunnel is not None:
                    tunnel.abort()
                raise _HopFailed(host, connect_problem(error, hop_options, self.limits)) from None
            if tunnel is not None:
                connection.set_tunnel(tunnel)
            tunnel = connection
        return tunnel

    @staticmethod
    async def _open(
        url: SshUrl,
        options: asyncssh.SSHClientConnectionOptions,
        paths: list[str],
        tunnel: asyncssh.SSHClientConnection | None,
        client: asyncssh.SSHClient,
    ) -> asyncssh.SSHClientConnection:
        # tunnel=(): as the configuration says; here only for a hop the configuration routes itself.
        return await asyncssh.connect(
            url.host,
            url.port or (),
            config=paths,
            options=options,
            tunnel=tunnel or (),
            client_factory=lambda: client,
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
            raise SessionError(lost_problem(self._why_closed or error, self.limits)) from None

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
            raise SessionError(lost_problem(self._why_closed or error, self.limits)) from None

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
            raise SessionError(no_progress(self.timeout)) from None
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
            status_text = self.pending[at + len(marker) : end].decode("ascii", errors="replace").strip()
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
                raise SessionError(no_progress(self.timeout))
            await asyncio.sleep(left)
