"""``webhook ...`` from the command line, with a real receiver on 127.0.0.1: bad input stores nothing,
the secret is never shown, a receiver that is down or stuck neither fails nor holds up a run, and a
process killed before its events went out loses none of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.bundles import write_bundle
from tests.cli.test_cross_process import start_holder, wait_for
from tests.conftest import REPO, Cli, child_env

SECRET = "a-webhook-secret-9f3c"


@pytest.fixture
def env(cli: Cli, tmp_path: Path) -> Cli:
    assert cli("init", "--frontend", str(tmp_path / "fe1"), "--frontend", str(tmp_path / "fe2")).code == 0
    return cli


def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "webhook.secret"
    path.write_text(SECRET + "\n")
    return path


def events_posted(server: HTTPServer) -> list[dict[str, object]]:
    return [json.loads(request.get_data()) for request, _ in server.log]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.05)


def delivery_states(cli: Cli) -> list[tuple[str, str]]:
    from app.engine.context import Location, open_context
    from app.engine.webhooks.admin import deliveries

    ctx = open_context(Location(cli.data_dir))  # no sender of its own: only reads
    try:
        return sorted((d.event, d.state) for d in deliveries(ctx))
    finally:
        ctx.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("webhook", "add", "ftp://example.org/hook"), "is http:// or https:// with a host"),
        (("webhook", "add", "http:///nohost"), "is http:// or https:// with a host"),
        (("webhook", "add", "https://example.org/h", "--events", "run-failed,deployed"), "unknown webhook event"),
        (("webhook", "add", "https://example.org/h", "--secret-file", "/no/such/file"), "cannot read the secret file"),
    ],
)
def test_bad_input_is_exit_2_in_one_line_and_stores_nothing(env: Cli, args: tuple[str, ...], message: str) -> None:
    before = env("audit", "--json").json()["audit"]
    result = env(*args, "--json")
    assert result.code == 2, result
    assert len(result.err.strip().splitlines()) == 1 and message in result.err
    assert message in json.loads(result.out)["error"]
    assert env("webhook", "list", "--json").json()["webhooks"] == []
    assert env("audit", "--json").json()["audit"] == before


def test_the_secret_is_read_once_and_never_shown(env: Cli, tmp_path: Path) -> None:
    path = secret_file(tmp_path)
    added = env("webhook", "add", "https://chat.example/hook?token=abc", "--secret-file", str(path), "--json")
    assert added.code == 0
    path.unlink()  # read once: the file is not needed any more
    hooks = env("webhook", "list", "--json").json()["webhooks"]
    assert hooks[0]["signed"] is True and hooks[0]["url"] == "https://chat.example/hook?token=***"
    shown = added.out + env("webhook", "list").out + env("audit", "export").out + env("webhook", "deliveries").out
    assert SECRET not in shown and "token=abc" not in shown
    database = env.data_dir / "deploycenter.sqlite3"
    assert database.stat().st_mode & 0o077 == 0, "kept only in the owner's database file"


def test_events_filtered_by_name_and_a_ping_on_demand(env: Cli, httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    url = httpserver.url_for("/hook")
    assert env("webhook", "add", url, "--events", "run-failed", "--secret-file", str(secret_file(tmp_path))).code == 0
    assert env("publish", str(write_bundle(tmp_path / "b", "Orders"))).code == 0
    assert httpserver.log == [], "a run that did not fail is not a run-failed event"
    tested = env("webhook", "test", "1")
    assert tested.code == 0 and "delivered" in tested.out
    (ping,) = events_posted(httpserver)
    assert ping["type"] == "org.deploycenter.ping"
    assert env("webhook", "test", "7").code == 2


def test_a_receiver_that_is_down_fails_no_run_and_cron_sends_later(
    env: Cli, httpserver: HTTPServer, tmp_path: Path
) -> None:
    url = httpserver.url_for("/hook")
    assert env("webhook", "add", url).code == 0
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    published = env("publish", str(write_bundle(tmp_path / "b", "Orders")), "--json")
    assert published.code == 0 and published.json()["run"]["status"] == "succeeded"
    assert delivery_states(env) == [("run-finished", "pending"), ("run-started", "pending")]
    assert env("webhook", "test", "1").code == 1
    httpserver.clear()
    httpserver.expect_request("/hook").respond_with_data("ok")
    # Due again only after the first retry delay: make them due now, as ten seconds would.
    _make_all_due(env)
    sent = env("webhook", "send", "--json")
    assert sent.code == 0 and sent.json()["delivered"] == 3
    assert delivery_states(env) == [("ping", "delivered"), ("run-finished", "delivered"), ("run-started", "delivered")]
    assert env("webhook", "send").code == 0, "nothing left to send"


def _make_all_due(cli: Cli) -> None:
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(cli.data_dir / "deploycenter.sqlite3")) as connection:
        connection.execute("UPDATE webhook_delivery SET next_try_at = '2000-01-01 00:00:00.000000'")
        connection.commit()


class StuckReceiver:
    """Answers at once, except the event of type ``stuck_on``: that one waits until ``release``."""

    def __init__(self, server: HTTPServer, stuck_on: str) -> None:
        self.arrived = threading.Event()
        self.released = threading.Event()
        self._stuck_on = "org.deploycenter." + stuck_on
        server.expect_request("/hook").respond_with_handler(self.answer)

    def answer(self, request: Request) -> Response:
        if json.loads(request.get_data())["type"] == self._stuck_on and not self.released.is_set():
            self.arrived.set()
            self.released.wait(60)
        return Response("ok", status=200)


def test_a_stuck_receiver_does_not_hold_up_a_run(env: Cli, httpserver: HTTPServer, tmp_path: Path) -> None:
    receiver = StuckReceiver(httpserver, "run-started")
    assert env("webhook", "add", httpserver.url_for("/hook")).code == 0
    try:
        published = env("publish", str(write_bundle(tmp_path / "b", "Orders")), "--json")
        assert published.code == 0 and published.json()["run"]["status"] == "succeeded"
        assert receiver.arrived.is_set() and not receiver.released.is_set(), "the run ended while its event hung"
    finally:
        receiver.released.set()
    wait_until(lambda: ("run-started", "delivered") in delivery_states(env), "the stuck try recorded")
    # run-finished waits its turn behind the stuck try; the next command sends it.
    env("runs")
    wait_until(lambda: ("run-finished", "delivered") in delivery_states(env), "run-finished sent by the next command")


@pytest.mark.slow
def test_a_kill_between_the_runs_end_and_its_delivery_loses_nothing(
    env: Cli, httpserver: HTTPServer, tmp_path: Path
) -> None:
    receiver = StuckReceiver(httpserver, "run-finished")
    assert env("webhook", "add", httpserver.url_for("/hook")).code == 0
    publishing = env.spawn("publish", str(write_bundle(tmp_path / "b", "Orders")))
    try:
        assert receiver.arrived.wait(120), "run-finished never reached the receiver"
        publishing.send_signal(signal.SIGKILL)
        publishing.communicate(timeout=60)
    finally:
        receiver.released.set()
    assert publishing.returncode == -signal.SIGKILL, "killed while its sender waited for the receiver"
    assert env("runs", "--json").json()["runs"][0]["status"] == "succeeded", "the run had ended"
    wait_until(lambda: delivery_states(env) == [("run-finished", "delivered"), ("run-started", "delivered")], "sent")
    finished = [e for e in events_posted(httpserver) if e["type"] == "org.deploycenter.run-finished"]
    assert len(finished) == 2 and finished[0] == finished[1], "the same event, id included, tried again"


@pytest.mark.slow
def test_a_run_killed_midway_is_reported_by_the_next_command(env: Cli, httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    bundles = [str(write_bundle(tmp_path / "b", f"Mod{i}")) for i in range(4)]
    assert env("publish", *bundles).code == 0
    assert env("upgrade", "--to", "11.19.0").code == 0
    assert env("webhook", "add", httpserver.url_for("/hook"), "--events", "run-finished,run-failed").code == 0
    marker = tmp_path / "held"
    holder = start_holder(env.data_dir, marker)  # a run that sends nothing itself
    wait_for(marker, holder)
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate(timeout=30)
    assert env("runs").code == 0  # settles the dead run, then sends what that recorded
    wait_until(lambda: len(httpserver.log) == 2, "run-finished and run-failed")
    by_type = {str(e["type"]): e["data"] for e in events_posted(httpserver)}
    assert set(by_type) == {"org.deploycenter.run-finished", "org.deploycenter.run-failed"}
    data = by_type["org.deploycenter.run-failed"]
    assert isinstance(data, dict) and (data["kind"], data["status"]) == ("deploy-all", "interrupted")


@pytest.mark.slow
def test_two_cron_senders_at_once_send_each_event_once(env: Cli, httpserver: HTTPServer, tmp_path: Path) -> None:
    from app.engine.context import Location, open_context
    from app.engine.webhooks.outbox import WebhookEvent, enqueue

    httpserver.expect_request("/hook").respond_with_data("ok")
    assert env("webhook", "add", httpserver.url_for("/hook")).code == 0
    ctx = open_context(Location(env.data_dir))
    try:
        with ctx.db.write() as session:
            ids = {enqueue(session, WebhookEvent.EMERGENCY, {"number": n}) for n in range(40)}
    finally:
        ctx.close()
    senders = [
        subprocess.Popen(
            [*env.command("webhook", "send", "--json")],
            cwd=REPO,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [sender.communicate(timeout=120) for sender in senders]
    assert all(sender.returncode == 0 for sender in senders), outcomes
    assert sum(json.loads(out)["delivered"] for out, _err in outcomes) == 40
    received = [str(e["id"]) for e in events_posted(httpserver)]
    assert sorted(received) == sorted(i for i in ids if i is not None), "each event once"
