"""A real HTTP health endpoint for a test farm, on 127.0.0.1, whose answers follow what each
front-end really runs.

``GET /{frontend}`` answers 200 when no module live on that front-end's folder runs a release the
test marked bad (everywhere, or there), else 500 naming it; ``GET /{frontend}/{module}`` answers for that one module.
Every request is counted by path, so a test can see that a soak kept checking.
"""

from __future__ import annotations

import ssl
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote


class FarmHealth:
    """The state the endpoint answers from: each front-end's folder and the releases known to be bad."""

    def __init__(self, frontends: Mapping[str, Path]) -> None:
        self.frontends = dict(frontends)
        self.bad: set[str] = set()  # releases that fail on every front-end
        self.bad_on: dict[str, set[str]] = {}  # releases that fail on one front-end (its own settings, say)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    def answer(self, path: str) -> tuple[int, str]:
        parts = [unquote(part) for part in path.strip("/").split("/") if part]
        with self.lock:
            self.hits[path] += 1
        if not parts or parts[0] not in self.frontends:
            return 404, "no such front-end"
        folder = self.frontends[parts[0]]
        modules = [parts[1]] if len(parts) > 1 else sorted(p.name for p in folder.iterdir() if p.is_dir())
        for module in modules:
            current = folder / module / "CURRENT"
            release = current.read_text().strip() if current.exists() else None
            if release in self.bad or release in self.bad_on.get(parts[0], ()):
                return 500, f"{module} runs bad release {release}"
        return 200, "ok"


@contextmanager
def farm_health_server(health: FarmHealth, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve ``health`` on a free port of 127.0.0.1 (over TLS with ``tls``); yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, text = health.answer(self.path)
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
