"""Health checks against a real HTTP server: 2xx passes, anything else is retried after a switch
until the front-end's timeout, and a {module} URL is checked for every module."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.frontend import health
from app.engine.frontend.registry import Frontend
from tests.farm_http import FarmHealth, farm_health_server


@pytest.fixture
def farm(tmp_path: Path) -> Iterator[tuple[FarmHealth, str]]:
    folder = tmp_path / "web1"
    for module, release in (("Orders", "v1-good"), ("Billing", "v1-good")):
        (folder / module).mkdir(parents=True)
        (folder / module / "CURRENT").write_text(release + "\n")
    state = FarmHealth({"web1": folder})
    with farm_health_server(state) as url:
        yield state, url


def web1(url: str | None = None, command: str | None = None, timeout: float | None = None) -> Frontend:
    return Frontend(1, "web1", "/srv", health_cmd=command, health_url=url, health_timeout=timeout)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_url_passes_on_2xx_and_fails_naming_the_url_and_its_answer(farm: tuple[FarmHealth, str]) -> None:
    state, base = farm
    assert health.check_once(web1(f"{base}/{{frontend}}"), [], 7).ok
    state.bad.add("v1-good")
    result = health.check_once(web1(f"{base}/{{frontend}}"), [], 7)
    assert result.problem == f"health URL {base}/web1 of front-end web1 answered 500 Internal Server Error"
    assert "Billing runs bad release v1-good" not in (result.problem or "")


def test_a_module_url_is_checked_for_every_module(farm: tuple[FarmHealth, str]) -> None:
    state, base = farm
    result = health.check_once(web1(f"{base}/{{frontend}}/{{module}}"), ["Orders", "Billing"], 7)
    assert result.ok
    assert state.hits["/web1/Orders"] == 1 and state.hits["/web1/Billing"] == 1
    (Path(state.frontends["web1"]) / "Billing" / "CURRENT").write_text("v2-bad\n")
    state.bad.add("v2-bad")
    failed = health.check_once(web1(f"{base}/{{frontend}}/{{module}}"), ["Orders", "Billing"], 7)
    assert failed.problem == f"health URL {base}/web1/Billing of front-end web1 answered 500 Internal Server Error"


def test_a_refused_connection_is_retried_until_the_timeout() -> None:
    url = f"http://127.0.0.1:{closed_port()}/health"
    now = [0.0]
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    result = health.wait_until_healthy(web1(url, timeout=3), [], 1, clock=lambda: now[0], pause=pause)
    assert not result.ok
    assert result.problem is not None and result.problem.startswith(f"health URL {url} of front-end web1 could not")
    assert result.problem.endswith("(tried 4 times in 3 s)")
    assert pauses == [1.0, 1.0, 1.0]


def test_after_a_switch_a_check_that_comes_good_passes(farm: tuple[FarmHealth, str], tmp_path: Path) -> None:
    state, base = farm
    state.bad.add("v1-good")
    flag = tmp_path / "up"
    tries: list[float] = []

    def pause(seconds: float) -> None:
        tries.append(seconds)
        if len(tries) == 2:
            state.bad.clear()  # the application came up
            flag.touch()

    result = health.wait_until_healthy(web1(f"{base}/web1", f"test -e {flag}", timeout=60), [], 1, pause=pause)
    assert result.ok and len(tries) == 2


def test_a_command_and_a_url_must_both_pass(farm: tuple[FarmHealth, str]) -> None:
    _state, base = farm
    assert health.check_once(web1(f"{base}/web1", "true"), [], 1).ok
    failed = health.check_once(web1(f"{base}/web1", "echo 'disk full' >&2; exit 4"), [], 1)
    assert failed.problem == "health check of front-end web1 failed (exit 4): disk full"


def test_tls_is_verified(tmp_path: Path) -> None:
    """A server whose certificate no known authority signed fails the check, naming the reason."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    state = FarmHealth({"web1": tmp_path})
    with farm_health_server(state, context) as base:
        result = health.check_once(web1(f"{base}/web1"), [], 1)
    assert base.startswith("https://")
    assert result.problem is not None and "CERTIFICATE_VERIFY_FAILED" in result.problem, result.problem
