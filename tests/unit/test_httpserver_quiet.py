"""The local HTTP server (the stack, the portal emulator, the carrier fakes) on a loaded machine: a
burst of connections while its accept loop is slow is queued, never reset (a reset reached the
emulator's actor as ``ConnectionResetError`` tracebacks in green runs); a client that drops its
connection is one quiet log line; an unexpected error in a responder still prints its traceback."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections import Counter
from typing import Any

import pytest
import requests

from local.httpserver import LoopbackServer, Reply, json_reply


def ok(*_: Any) -> Reply:
    return json_reply(200, {"ok": True})


def test_a_burst_while_the_accept_loop_is_slow_is_queued_not_reset():
    server = LoopbackServer(ok)
    accept = server.server.get_request
    stalled = threading.Event()

    def slow() -> tuple[socket.socket, Any]:
        if not stalled.is_set():  # the first accept waits, as on a machine busy elsewhere
            time.sleep(1.5)
            stalled.set()
        return accept()

    server.server.get_request = slow  # type: ignore[method-assign]
    server.start()
    outcomes: Counter[str] = Counter()

    def call() -> None:
        try:
            outcomes[str(requests.post(f"{server.base_url}/x", data="a=1", timeout=30).status_code)] += 1
        except requests.RequestException as exc:
            outcomes[type(exc).__name__] += 1

    try:
        callers = [threading.Thread(target=call) for _ in range(60)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(60)
    finally:
        server.stop()
    assert outcomes == {"200": 60}


def reset_midway(base_url: str) -> None:
    """A client that sends half a request, then drops the connection abortively (an RST)."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nhalf")
        time.sleep(0.2)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_dropped_client_is_a_quiet_log_line(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture):
    server = LoopbackServer(ok).start()
    try:
        with caplog.at_level(logging.DEBUG, logger="local.httpserver"):
            reset_midway(server.base_url)
            time.sleep(0.5)
            assert requests.get(f"{server.base_url}/after", timeout=10).status_code == 200  # still serving
    finally:
        server.stop()
    assert "Traceback" not in capfd.readouterr().err
    assert any("dropped the connection" in r.getMessage() for r in caplog.records), caplog.records


def test_an_unexpected_error_still_prints_its_traceback(capfd: pytest.CaptureFixture[str]):
    def broken(*_: Any) -> Reply:
        raise ValueError("a bug in a responder")

    server = LoopbackServer(broken).start()
    try:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.base_url}/x", timeout=10)
    finally:
        server.stop()
    err = capfd.readouterr().err
    assert "Traceback" in err and "ValueError: a bug in a responder" in err
