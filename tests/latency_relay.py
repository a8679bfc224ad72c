"""A TCP relay on 127.0.0.1 that delays each direction by a set time: a server at a distance.

``LatencyRelay(upstream_port, one_way_seconds)`` listens on a free port of 127.0.0.1 and
forwards every connection it accepts to ``127.0.0.1:upstream_port``. Each chunk read on one
side is written on the other ``one_way_seconds`` after it arrived, in order, so a round trip
through the relay takes twice that longer, as over a network link; bandwidth is not limited.
A side that stops reading slows the other down once ``MAX_BUFFERED`` bytes wait in one
direction, as a real link's buffers would.

The relay runs its own event loop on a thread, so a test or a benchmark can start it beside
the servers it fronts; ``close`` stops it and cuts every connection. It is for the suite and
``bench/``: nothing in ``app/`` uses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque

MAX_BUFFERED = 8 << 20  # bytes in flight one way before the relay stops reading that side
CHUNK = 1 << 16


class LatencyRelay:
    """Forwards ``127.0.0.1:port`` to ``127.0.0.1:upstream_port``, each way ``one_way`` seconds late."""

    def __init__(self, upstream_port: int, one_way: float) -> None:
        self.upstream_port = upstream_port
        self.one_way = one_way
        self.port = 0
        self.connections = 0  # accepted so far
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="latency relay", daemon=True)
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=30)

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        writers = [writer]
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            except OSError:
                return
            writers.append(up_writer)
            ways = [_Direction(reader, up_writer, self.one_way), _Direction(up_reader, writer, self.one_way)]
            await asyncio.gather(*(way.run(ways) for way in ways), return_exceptions=True)
        except asyncio.CancelledError:
            pass  # close() cut it; ending quietly keeps asyncio from reporting the cancel
        finally:
            for each in writers:
                each.close()
            self._tasks.discard(task)

    def close(self) -> None:
        """Stop listening and cut every connection; waits for the relay's thread to end."""
        if not self._thread.is_alive():
            return

        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        with contextlib.suppress(Exception):  # stopping must not fail the test that used it
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()


class _Direction:
    """One way of one connection: read as it comes, write each chunk once its delay is over."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
        self.reader = reader
        self.writer = writer
        self.delay = delay
        self.queue: deque[tuple[float, bytes]] = deque()  # (when it may go, data); b"" is the end
        self.buffered = 0
        self.arrived = asyncio.Event()
        self.drained = asyncio.Event()

    async def run(self, both: list[_Direction]) -> None:
        """Until this side's end has been passed on; a broken side cuts both ways."""
        sender = asyncio.ensure_future(self._send())
        clean = False
        try:
            await self._receive()
            clean = await sender
        finally:
            sender.cancel()
            if not clean:
                for way in both:
                    way.writer.close()

    async def _receive(self) -> None:
        while True:
            try:
                data = await self.reader.read(CHUNK)
            except OSError:
                data = b""
            self.queue.append((time.monotonic() + self.delay, data))
            self.buffered += len(data)
            self.arrived.set()
            if not data:
                return
            while self.buffered > MAX_BUFFERED:
                self.drained.clear()
                await self.drained.wait()

    async def _send(self) -> bool:
        """Write what arrives, each chunk once due; True when the end was passed on."""
        while True:
            while not self.queue:
                self.arrived.clear()
                await self.arrived.wait()
            due, data = self.queue.popleft()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    self.writer.write_eof()
                    return True
                return False
            self.writer.write(data)
            try:
                await self.writer.drain()
            except OSError:
                return False
            self.buffered -= len(data)
            self.drained.set()
