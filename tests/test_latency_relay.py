"""The latency relay the farm benchmarks use: each way is late by the set time, and every byte
arrives, in order, both ways."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.latency_relay import LatencyRelay


@pytest.fixture
def echo_port() -> Iterator[int]:
    """An echo server on 127.0.0.1 for one connection at a time."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)  # so that the server notices the end of the test
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                peer, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            peer.settimeout(None)
            with peer:
                while data := peer.recv(1 << 16):
                    peer.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    listener.close()
    thread.join(timeout=10)


def round_trip(conn: socket.socket) -> float:
    clock = time.monotonic()
    conn.sendall(b"x")
    assert conn.recv(1) == b"x"
    return time.monotonic() - clock


def test_a_round_trip_through_the_relay_takes_the_set_time_more(echo_port: int) -> None:
    relay = LatencyRelay(echo_port, 0.05)
    try:
        with socket.create_connection(("127.0.0.1", relay.port)) as conn:
            trips = sorted(round_trip(conn) for _ in range(5))
            assert trips[0] >= 0.1, trips  # 50 ms each way, never less
    finally:
        relay.close()
    assert relay.connections == 1


def test_every_byte_arrives_in_order_both_ways(echo_port: int) -> None:
    payload = os.urandom(3 << 20)
    relay = LatencyRelay(echo_port, 0.005)
    received = bytearray()
    try:
        with socket.create_connection(("127.0.0.1", relay.port)) as conn:

            def read() -> None:
                while len(received) < len(payload):
                    chunk = conn.recv(1 << 16)
                    if not chunk:
                        return
                    received.extend(chunk)

            reader = threading.Thread(target=read)
            reader.start()
            conn.sendall(payload)
            reader.join(timeout=60)
    finally:
        relay.close()
    assert bytes(received) == payload


def test_closing_the_relay_cuts_its_connections(echo_port: int) -> None:
    relay = LatencyRelay(echo_port, 0.001)
    conn = socket.create_connection(("127.0.0.1", relay.port))
    try:
        assert round_trip(conn) > 0
        relay.close()
        conn.settimeout(10)
        assert conn.recv(1) == b""  # the peer is gone
    finally:
        conn.close()
