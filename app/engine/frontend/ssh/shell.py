"""The long-lived remote shell that every command of a connection goes through, pipelined.

A new session on the server runs the account's login shell and its rc files each time (0.15-0.3 s
on the test machine, seconds under load), so a connection starts one ``/bin/sh`` once and sends
it every script, tar streams included. A script is sent as soon as it is asked for, even while
earlier ones still run: the shell runs them one after the other in the order they arrived, and
their replies come back in that order. The channel stays busy and round trips overlap instead
of adding up, however many batches the callers have in flight.

The protocol, on the channel's stdin: a line ``<bytes> <token> <data>``, then the script itself
(``<bytes>`` long). With ``<data>`` 1 the script's stdin follows, in chunks that are each a line
with their length and that many bytes, ended by a line ``0``; data the script leaves unread is
drained, so the stream never falls out of step. After the script the shell prints
``=end-<token> <status>`` on stdout and ``=end-<token>`` on stderr, which tells each script's
output and errors from the next one's.

Failures: a command during which no byte moved either way for ``timeout`` seconds fails, as
does every command still waiting when the shell or its channel ends; the caller then drops the
connection.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import asyncssh

from app.engine.frontend.ssh.options import SessionError, no_progress
from app.engine.frontend.ssh.tar_stream import coalesced

READY = b"=deploycenter-shell-ready\n"
CHUNK = 1 << 20  # bytes of stdin per frame: each frame costs one `head` process on the server

# The shell's own program: see the module's docstring for the protocol. `take` reads exactly the
# bytes asked for (head -c does, dd bs=1 where head lacks -c); a script runs in a subshell, so
# that `exit` or `cd` in it ends or moves only that subshell.
PROGRAM = r"""
echo =deploycenter-shell-ready
echo =deploycenter-shell-ready >&2
if head -c 1 </dev/null >/dev/null 2>&1; then take() { head -c "$1"; }
else take() { dd bs=1 count="$1" 2>/dev/null; }; fi
chunks() { while IFS= read -r c && [ "$c" -gt 0 ] 2>/dev/null; do take "$c"; done; }
while IFS=' ' read -r n t d; do
  s=$(take "$n")
  if [ "$d" = 1 ]; then chunks | ( (eval "$s"); r=$?; cat >/dev/null; exit $r )
  else (eval "$s") </dev/null; fi
  r=$?
  echo "=end-$t $r"
  echo "=end-$t" >&2
done
"""


@dataclass(frozen=True)
class Completed:
    status: int | None  # the exit status; None when the script was killed by a signal
    stdout: bytes
    stderr: bytes


class ShellEnded(Exception):
    """The remote shell, its channel or the connection ended; ``cause`` is what asyncssh said, if anything."""

    def __init__(self, cause: BaseException | None) -> None:
        super().__init__(str(cause) if cause is not None else "the remote shell ended")
        self.cause = cause


class StdinFailed(Exception):
    """Reading the data for a script's stdin failed here; the script saw its stdin end early."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class _ReadState:
    ready: bool = False
    searched: int = 0  # the buffer before this offset holds no marker: look only at what is new


_Taker = Callable[[bytearray, _ReadState], None]


@dataclass(eq=False)
class _Request:
    token: str
    done: asyncio.Future[Completed]
    out: bytes | None = None
    status: int | None = None
    err: bytes | None = None
    shared: str | None = None  # the script, when callers share this run of it

    def settle(self) -> None:
        if self.out is not None and self.err is not None and not self.done.done():
            self.done.set_result(Completed(self.status, self.out, self.err))


class RemoteShell:
    """One remote ``/bin/sh`` on a channel of its own; ``run`` may be called by many coroutines at once."""

    def __init__(self, process: asyncssh.SSHClientProcess[bytes], timeout: float) -> None:
        self._process = process
        self._timeout = timeout
        self._loop = asyncio.get_running_loop()
        self._writing = asyncio.Lock()  # one script (and its data) enters the channel at a time
        self._replies: deque[_Request] = deque()  # sent, stdout reply still to come
        self._errors: deque[_Request] = deque()  # sent, stderr end still to come
        self._shared: dict[str, _Request] = {}  # shared scripts sent and not replied yet
        self._ended: ShellEnded | None = None
        self.moved = self._loop.time()  # the last time a byte went either way
        self.bytes_sent = 0
        self.scripts = 0
        self._readers = [
            asyncio.ensure_future(self._read(process.stdout, self._on_stdout)),
            asyncio.ensure_future(self._read(process.stderr, self._on_stderr)),
        ]

    async def run(self, script: str, stdin: Iterable[bytes] | None = None) -> Completed:
        """Run ``script`` after every script sent before it; ``stdin``, if given, is its input."""
        request = await self._send(script, stdin)
        return await self._wait(request.done)

    async def shared(self, script: str) -> tuple[Completed, bool]:
        """Run ``script`` once for every caller waiting for it, and say whether this call sent it.

        A caller joins the run of it still to reply, if there is one: it was sent after every
        reply this shell has given so far, so its effect (a ``sync``) covers whatever the caller
        did before asking.
        """
        request = self._shared.get(script)
        sent = request is None or request.done.done()
        if sent:
            request = await self._send(script, None, shared=True)
        assert request is not None
        return await self._wait(request.done), sent

    def close(self) -> None:
        for reader in self._readers:
            reader.cancel()
        self._end(ShellEnded(None))

    # -- sending

    async def _send(self, script: str, stdin: Iterable[bytes] | None, shared: bool = False) -> _Request:
        async with self._writing:
            if self._ended is not None:
                raise self._ended
            data = script.encode("utf-8")
            request = _Request(secrets.token_hex(8), self._loop.create_future())
            if shared:
                request.shared = script
                self._shared[script] = request
            self._replies.append(request)
            self._errors.append(request)
            self.scripts += 1
            self._write(f"{len(data)} {request.token} {0 if stdin is None else 1}\n".encode("ascii") + data)
            failed: Exception | None = None
            if stdin is not None:
                try:
                    for piece in coalesced(stdin, CHUNK):
                        self._write(b"%d\n" % len(piece) + piece)
                        await self._drained()
                except (SessionError, ShellEnded):
                    raise
                except Exception as error:  # the data's source failed: end the data, keep in step
                    failed = error
                self._write(b"0\n")
            await self._drained()
        if failed is not None:
            await self._wait(request.done)
            raise StdinFailed(failed)
        return request

    def _write(self, data: bytes) -> None:
        try:
            self._process.stdin.write(data)
        except Exception as error:  # the channel is gone
            raise self._ended or ShellEnded(error) from None
        self.bytes_sent += len(data)

    async def _drained(self) -> None:
        try:
            await asyncio.wait_for(self._process.stdin.drain(), timeout=self._timeout)
        except TimeoutError:
            raise SessionError(no_progress(self._timeout)) from None
        except Exception as error:
            raise self._ended or ShellEnded(error) from None
        self.moved = self._loop.time()

    # -- waiting

    async def _wait(self, done: asyncio.Future[Completed]) -> Completed:
        """The reply, unless nothing moved either way for ``timeout`` seconds first."""
        while True:
            left = self.moved + self._timeout - self._loop.time()
            if left <= 0:
                raise SessionError(no_progress(self._timeout))
            finished, _ = await asyncio.wait({done}, timeout=left)
            if finished:
                return done.result()

    # -- reading

    async def _read(self, stream: asyncssh.SSHReader[bytes], take: _Taker) -> None:
        buffer = bytearray()
        state = _ReadState()
        try:
            while True:
                chunk = await stream.read(1 << 16)
                if not chunk:
                    self._end(ShellEnded(None))
                    return
                self.moved = self._loop.time()
                buffer += chunk
                take(buffer, state)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the channel or the connection ended under us
            self._end(ShellEnded(error))

    def _on_stdout(self, buffer: bytearray, state: _ReadState) -> None:
        if not _past_ready(buffer, state):
            return
        while self._replies:
            request = self._replies[0]
            marker = f"=end-{request.token} ".encode("ascii")
            at = buffer.find(marker, state.searched)
            end = buffer.find(b"\n", at + len(marker)) if at >= 0 else -1
            if end < 0:
                state.searched = max(0, len(buffer) - len(marker) - 8) if at < 0 else at
                return
            status = bytes(buffer[at + len(marker) : end]).strip()
            request.out, request.status = bytes(buffer[:at]), int(status) if status.isdigit() else None
            del buffer[: end + 1]
            state.searched = 0
            self._replies.popleft()
            if request.shared is not None and self._shared.get(request.shared) is request:
                del self._shared[request.shared]
            request.settle()

    def _on_stderr(self, buffer: bytearray, state: _ReadState) -> None:
        if not _past_ready(buffer, state):
            return
        while self._errors:
            request = self._errors[0]
            marker = f"=end-{request.token}\n".encode("ascii")
            at = buffer.find(marker, state.searched)
            if at < 0:
                state.searched = max(0, len(buffer) - len(marker))
                return
            request.err = bytes(buffer[:at])
            del buffer[: at + len(marker)]
            state.searched = 0
            self._errors.popleft()
            request.settle()

    def _end(self, ended: ShellEnded) -> None:
        """Fail every script still waiting; later calls fail at once."""
        if self._ended is None:
            self._ended = ended
        for request in [*self._replies, *self._errors]:
            if not request.done.done():
                request.done.set_exception(self._ended)
                request.done.exception()  # retrieved: a request nobody waits for must not warn
        self._replies.clear()
        self._errors.clear()
        self._shared.clear()


def _past_ready(buffer: bytearray, state: _ReadState) -> bool:
    """Skip what the login shell printed before ours started (a message of the day...)."""
    if state.ready:
        return True
    at = buffer.find(READY)
    if at < 0:
        return False
    del buffer[: at + len(READY)]
    state.ready = True
    return True
