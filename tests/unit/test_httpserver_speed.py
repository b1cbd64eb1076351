"""The local HTTP server (the stack, the portal emulator, the carrier fakes) answers a keep-alive
client at once: its headers and body used to leave in two writes, and Nagle's algorithm held the body
until the client's delayed ACK of the headers, 40 ms later, on every request of every test (the fuzz's
1,600 requests spent 70 of their 78 s waiting so)."""

from __future__ import annotations

import socket
import time
from typing import Any

import requests

from local.httpserver import LoopbackServer, Reply, json_reply

REQUESTS = 20


def ok(*_: Any) -> Reply:
    return json_reply(200, {"ok": True})


def test_the_server_turns_nagle_off_on_its_connections():
    server = LoopbackServer(ok).start()
    seen: list[int] = []
    handler: Any = server.server.RequestHandlerClass
    original = handler.setup

    def setup(self: Any) -> None:
        original(self)
        seen.append(self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    handler.setup = setup
    try:
        assert requests.get(server.base_url, timeout=5).status_code == 200
    finally:
        handler.setup = original
        server.stop()
    assert seen and all(seen)


def test_twenty_keep_alive_requests_take_milliseconds_not_a_second():
    server = LoopbackServer(ok).start()
    try:
        with requests.Session() as session:
            session.get(server.base_url, timeout=5)  # the connection, once
            started = time.perf_counter()
            for _ in range(REQUESTS):
                assert session.post(server.base_url, data=b"x", timeout=5).status_code == 200
            took = time.perf_counter() - started
    finally:
        server.stop()
    assert took < REQUESTS * 0.04 / 2, f"{REQUESTS} requests took {took:.2f} s"
