"""One SSH connection to one front-end server, held on a private event loop thread.

asyncssh is asynchronous; the engine is not. A ``Session`` runs an event loop on a thread of
its own and offers blocking calls that any thread may make: ``shell`` (a script, with data on
its stdin or without) and ``shared`` (a script several callers may share, such as a ``sync``).
The connection is made on the first call, reused for every call after, and made again after
it was lost. Every script goes through one long-lived remote shell on the connection
(``shell.RemoteShell``): one session per connection, whatever the number of scripts, and
scripts from many threads at once are pipelined on it.

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
)
from app.engine.frontend.ssh.shell import PROGRAM, Completed, RemoteShell, ShellEnded, StdinFailed
from app.engine.frontend.ssh.url import SshUrl

_T = TypeVar("_T")

__all__ = ["Completed", "Session", "SessionCounts"]


@dataclass(frozen=True)
class SessionCounts:
    """What a session cost so far: connections made, sessions (channels) opened on them, scripts
    run, and bytes sent to the server."""

    connections: int = 0
    sessions: int = 0
    scripts: int = 0
    bytes_sent: int = 0


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
        self._shell: RemoteShell | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self._why_closed: Exception | None = None  # what ended the connection, told by asyncssh
        self._connections = 0
        self._sessions = 0
        self._done = SessionCounts()  # what the shells of earlier connections did

    # -- blocking calls

    def shell(self, script: str, stdin: Iterable[bytes] | None = None) -> Completed:
        """Run ``script`` in the connection's remote shell, ``stdin`` (if given) as its input.

        Raises SessionError; an error raised by ``stdin`` itself is raised as it is, once the
        script has seen its input end.
        """
        return self._call(lambda: self._run(script, stdin))

    def shared(self, script: str) -> tuple[Completed, bool]:
        """Run ``script`` once for every caller asking for it at about the same time
        (``RemoteShell.shared``), and say whether this call sent it; raises SessionError."""
        return self._call(lambda: self._run_shared(script))

    def counts(self) -> SessionCounts:
        shell = self._shell
        done = self._done
        return SessionCounts(
            self._connections,
            self._sessions,
            done.scripts + (shell.scripts if shell else 0),
            done.bytes_sent + (shell.bytes_sent if shell else 0),
        )

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

    async def _run_shared(self, script: str) -> tuple[Completed, bool]:
        shell = await self._ready_shell()
        return await self._guarded(shell, shell.shared(script))

    async def _run(self, script: str, stdin: Iterable[bytes] | None) -> Completed:
        shell = await self._ready_shell()
        return await self._guarded(shell, shell.run(script, stdin))

    async def _guarded(self, shell: RemoteShell, work: Coroutine[Any, Any, _T]) -> _T:
        """``work`` on ``shell``; a failure of the shell drops the connection and says why in one line."""
        try:
            return await work
        except StdinFailed as failed:
            raise failed.error from None  # the shell kept in step: the connection stays
        except SessionError:
            await self._drop(shell)
            raise
        except ShellEnded as ended:
            cause = await self._cause(ended)
            await self._drop(shell)
            if isinstance(cause, Exception):
                raise SessionError(lost_problem(cause, self.limits)) from None
            raise SessionError("the connection was lost: the remote shell ended unexpectedly") from None
        except Exception as error:
            await self._drop(shell)
            raise SessionError(lost_problem(self._why_closed or error, self.limits)) from None

    async def _cause(self, ended: ShellEnded) -> BaseException | None:
        """Why the shell ended: what asyncssh says ended the connection (a keepalive timeout...),
        told a moment after the channels learn of it; else what the channel said."""
        connection = self._connection
        if self._why_closed is None and connection is not None:
            with contextlib.suppress(Exception):  # the connection may well stay open: the shell alone ended
                await asyncio.wait_for(connection.wait_closed(), timeout=1)
        return self._why_closed or ended.cause

    async def _ready_shell(self) -> RemoteShell:
        """The connection's remote shell, connecting and starting it first when needed."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._shell is not None:
                return self._shell
            if self._connection is None:
                self._connection = await self._connect()
                self._connections += 1
            try:
                process = await asyncio.wait_for(
                    self._connection.create_process(f"exec /bin/sh -c {shlex.quote(PROGRAM)}", encoding=None),
                    timeout=self.limits.command_timeout,
                )
            except Exception as error:
                await self._drop(None)
                raise SessionError(lost_problem(self._why_closed or error, self.limits)) from None
            self._sessions += 1
            self._shell = RemoteShell(process, self.limits.command_timeout)
            return self._shell

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

    async def _drop(self, shell: RemoteShell | None) -> None:
        """Forget a connection whose shell failed (unless a newer one replaced it); the next call connects again."""
        if shell is not None and shell is not self._shell:
            return
        connection, self._connection = self._connection, None
        self._forget_shell()
        if connection is not None:
            connection.abort()
            with contextlib.suppress(Exception):  # it is being cut off anyway
                await asyncio.wait_for(connection.wait_closed(), timeout=5)

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        self._forget_shell()
        if connection is None:
            return
        connection.close()
        try:
            await asyncio.wait_for(connection.wait_closed(), timeout=10)
        except Exception:  # a hung server: cut it off
            connection.abort()

    def _forget_shell(self) -> None:
        shell, self._shell = self._shell, None
        if shell is not None:
            self._done = SessionCounts(
                scripts=self._done.scripts + shell.scripts, bytes_sent=self._done.bytes_sent + shell.bytes_sent
            )
            shell.close()

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
