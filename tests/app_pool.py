"""Small application servers for the load-balancer test, one per front-end, on 127.0.0.1.

Each serves the release one module of its front-end runs. Like an application pool that recycles
when its files change, it stops listening for a moment whenever that module's ``CURRENT`` changes:
its listening socket is closed, and opened again on the same port ``recycle`` seconds later. A
request that arrives to find a new release (before the watcher noticed) starts the recycle and
is dropped, so that no request is ever answered by a server about to go away.

``steady_load`` sends requests through the balancer, one connection each, until told to stop,
and counts those that did not get a 200.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path


class RecyclingApp:
    """One front-end's application: answers 200 with its release, and recycles on a new one."""

    def __init__(self, current: Path, recycle: float) -> None:
        self._current = current
        self._recycle = recycle
        self._lock = threading.Lock()
        self._loaded = self._read()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self.port = 0
        self.recycles = 0
        self._threads: list[threading.Thread] = []

    def _read(self) -> str:
        return self._current.read_text().strip() if self._current.exists() else "none"

    def start(self) -> None:
        self._listen()
        for target in (self._accept_loop, self._watch):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        for thread in self._threads:
            thread.join(10)

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:
                time.sleep(0.01)
                continue
            try:
                connection, _address = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            with suppress(OSError):
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = connection.recv(4096)
                    if not chunk:
                        return
                    request += chunk
                if self._changed():
                    self._start_recycle()
                    return  # dropped: this server is going away
                body = self._loaded.encode()
                head = f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                connection.sendall(head.encode() + body)

    def _changed(self) -> bool:
        return self._read() != self._loaded

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            if self._changed():
                self._start_recycle()

    def _start_recycle(self) -> None:
        with self._lock:
            if self._listener is None or self._stop.is_set():
                return  # already recycling
            self._listener.close()
            self._listener = None
            self._loaded = self._read()
            self.recycles += 1
        threading.Timer(self._recycle, self._reopen).start()

    def _reopen(self) -> None:
        with self._lock:
            if not self._stop.is_set():
                self._listen()


@contextmanager
def app_pool(currents: list[Path], recycle: float = 1.5) -> Iterator[list[RecyclingApp]]:
    apps = [RecyclingApp(current, recycle) for current in currents]
    for app in apps:
        app.start()
    try:
        yield apps
    finally:
        for app in apps:
            app.stop()


@dataclass
class Load:
    sent: int = 0
    lost: int = 0
    answers: dict[str, int] = field(default_factory=dict)  # release -> requests it answered
    errors: list[str] = field(default_factory=list)


@contextmanager
def steady_load(port: int, workers: int = 2, limit: int = 50_000, seconds: float = 180) -> Iterator[Load]:
    """Requests through 127.0.0.1:``port`` from ``workers`` threads until the block ends (bounded)."""
    load = Load()
    lock = threading.Lock()
    stop = threading.Event()
    deadline = time.monotonic() + seconds

    def send() -> None:
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                if load.sent >= limit:
                    return
                load.sent += 1
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("GET", "/", headers={"Connection": "close"})
                response = connection.getresponse()
                body = response.read().decode()
                ok, said = response.status == 200, f"{response.status} {body[:60]}"
            except (OSError, http.client.HTTPException) as error:
                ok, said, body = False, f"{type(error).__name__}: {error}", ""
            finally:
                connection.close()
            with lock:
                if ok:
                    load.answers[body] = load.answers.get(body, 0) + 1
                else:
                    load.lost += 1
                    load.errors.append(said)
            time.sleep(0.005)

    threads = [threading.Thread(target=send, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    try:
        yield load
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
