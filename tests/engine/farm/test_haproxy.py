"""What the hooks are for: a real HAProxy in front of three application servers, one per
front-end, that stop listening for a moment whenever their release changes. Under steady load, a
rolling deploy that drains and undrains each server through HAProxy's admin socket loses no
request; the same deploy without those hooks loses some, which shows that the test sees an outage.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.engine import operations
from app.engine.farm_admin import HookSettings, set_hooks
from app.engine.read import views
from app.engine.runs.options import RunOptions
from app.engine.vocabulary import RunStatus
from tests.app_pool import app_pool, steady_load
from tests.engine.envkit import Kit, make_kit

HAPROXY_CONFIG = """
global
    stats socket {socket} mode 600 level admin
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    # A refused connection is not tried again elsewhere: what a client would see is counted.
    retries 0

frontend web
    bind 127.0.0.1:{port}
    default_backend farm

backend farm
    balance roundrobin
{servers}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def wait_for(what: str, check: object, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not callable(check) or not check():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.05)


def accepting(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def haproxy(folder: Path, app_ports: list[int]) -> Iterator[tuple[int, Path]]:
    """HAProxy in the foreground (-db) with its admin socket in ``folder``; yields (port, socket)."""
    program = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(program).exists() or shutil.which("socat") is None:
        if os.environ.get("CI"):
            pytest.fail("haproxy and socat must be installed (packaging/dev-setup installs them)", pytrace=False)
        pytest.skip("haproxy or socat is missing (packaging/dev-setup installs them)")
    port, admin = free_port(), folder / "admin.sock"
    servers = "\n".join(f"    server srv{n} 127.0.0.1:{p}" for n, p in enumerate(app_ports, start=1))
    config = folder / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(socket=admin, port=port, servers=servers))
    log = (folder / "haproxy.log").open("w")
    process = subprocess.Popen([program, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for("HAProxy listening", lambda: process.poll() is None and admin.exists() and accepting(port))
        yield port, admin
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def admin_command(admin: Path, server: int, state: str) -> str:
    """A hook that sets one server's state through the admin socket, and fails when HAProxy says no."""
    line = shlex.quote(f"set server farm/srv{server} state {state}")
    said = f"echo {line} | socat stdio UNIX-CONNECT:{shlex.quote(str(admin))}"
    return f'out=$({said}) && echo "$out" && [ -z "$(echo "$out" | tr -d "[:space:]")" ]'


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(tmp_path, frontends=3)
    k.publish(k.bundle("Shop"))
    yield k
    k.ctx.close()


def test_a_rolling_deploy_that_drains_through_haproxy_loses_no_request(kit: Kit, tmp_path: Path) -> None:
    currents = [folder / "Shop" / "CURRENT" for folder in kit.frontends]
    with app_pool(currents) as apps, haproxy(tmp_path, [app.port for app in apps]) as (port, admin):
        for n, (app, name) in enumerate(zip(apps, ("fe1", "fe2", "fe3"), strict=True), start=1):
            hooks = HookSettings(
                drain_cmd=admin_command(admin, n, "drain"),
                undrain_cmd=admin_command(admin, n, "ready"),
                health_url=f"http://127.0.0.1:{app.port}/health",
                health_timeout=30,
            )
            set_hooks(kit.ctx, name, hooks)
        operations.upgrade(kit.ctx, "11.19.0")
        with steady_load(port) as drained_load:
            wait_for("the first answers", lambda: drained_load.sent > 50)
            done = operations.deploy_all(kit.ctx, options=RunOptions(rolling=True))
            sent = drained_load.sent
            wait_for("more answers after the deploy", lambda: drained_load.sent > sent + 50)

        assert done.status == RunStatus.SUCCEEDED
        assert [app.recycles for app in apps] == [1, 1, 1]
        assert drained_load.lost == 0, drained_load.errors[:5]
        new = kit.current("Shop")
        assert new is not None and drained_load.answers.get(new, 0) > 0

        for name in ("fe1", "fe2", "fe3"):
            set_hooks(kit.ctx, name, HookSettings(clear=frozenset({"drain-cmd", "undrain-cmd"})))
        operations.upgrade(kit.ctx, "11.20.0")
        with steady_load(port) as open_load:
            wait_for("the first answers", lambda: open_load.sent > 50)
            again = operations.deploy_all(kit.ctx, options=RunOptions(rolling=True))
            sent = open_load.sent
            wait_for("more answers after the deploy", lambda: open_load.sent > sent + 50)

    assert again.status == RunStatus.SUCCEEDED
    assert [app.recycles for app in apps] == [2, 2, 2]
    assert open_load.lost > 0, "without draining, requests reach servers while they recycle"
    assert views.verify(kit.ctx).drift == ()
