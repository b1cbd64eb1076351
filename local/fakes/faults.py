"""Connection faults below HTTP, played by the carrier fakes on their next sends: what a real carrier's
connection does now and then, and what decides whether an SMS may be sent again.

- ``close``: read the whole request, then close the connection without answering (the client sees
  "Connection aborted" / RemoteDisconnected);
- ``stall``: read the request and answer nothing for ``stall_seconds`` (past the client's timeout);
- ``reset``: read the request, write the first bytes of the answer's headers, then reset (RST);
- ``reset_body``: the same, with the headers whole and part of the body;
- ``refuse`` (``FaultyServer.refuse_for``): nothing listens on the port for a while (connection refused).

In the first four the carrier has read the request: it may have taken the SMS. Only a refused
connection proves it has not.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from local.httpserver import Hangup, LoopbackServer, Responder

MODES = ("close", "stall", "reset", "reset_body")


class Faults:
    """The faults a fake plays on its next send requests, in order, one per request."""

    def __init__(self, stall_seconds: float = 2.0) -> None:
        self.pending: deque[str] = deque()
        self.stall_seconds = stall_seconds
        self._lock = threading.Lock()

    def next(self, *modes: str) -> None:
        unknown = [m for m in modes if m not in MODES]
        if unknown:
            raise ValueError(f"unknown fault {unknown}; one of {', '.join(MODES)}")
        self.pending.extend(modes)

    def clear(self) -> None:
        self.pending.clear()

    def play(self) -> None:
        """Called by a fake once it has read a send request: plays the next fault (raises ``Hangup``),
        or returns when none is pending and the fake answers as usual."""
        with self._lock:
            if not self.pending:
                return
            mode = self.pending.popleft()
        if mode == "close":
            raise Hangup()
        if mode == "stall":
            time.sleep(self.stall_seconds)
            raise Hangup()
        if mode == "reset":
            raise Hangup(b"HTTP/1.1 201 Created\r\nContent-Type: appl", reset=True)
        head = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n"
        raise Hangup(head + b'{"sid": "SM', reset=True)


class FaultyServer:
    """A fake's loopback server that can also refuse connections for a while (``refuse_for``): it stops
    listening, then listens again on the same port."""

    def __init__(self, respond: Responder) -> None:
        self._respond = respond
        self._server = LoopbackServer(respond).start()
        self.port = self._server.port
        self.base_url = self._server.base_url
        self._lock = threading.Lock()
        self._listening = True
        self._stopped = False

    def refuse_for(self, seconds: float) -> None:
        with self._lock:
            if self._listening:
                self._server.stop()
                self._listening = False
        timer = threading.Timer(seconds, self._listen)
        timer.daemon = True
        timer.start()

    def _listen(self) -> None:
        with self._lock:
            if not self._listening and not self._stopped:
                self._server = LoopbackServer(self._respond, port=self.port).start()
                self._listening = True

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._listening:
                self._server.stop()
                self._listening = False


class ServedFake:
    """What every carrier fake does with its server: serve a responder, stop, refuse connections a while.
    The fake (a dataclass) declares ``base_url``; this sets it when it serves."""

    _server: FaultyServer | None = None
    base_url: str

    def _serve(self, respond: Responder) -> None:
        self._server = FaultyServer(respond)
        self.base_url = self._server.base_url

    def stop(self) -> None:
        if self._server:
            self._server.stop()

    def refuse_for(self, seconds: float) -> None:
        """Refuse connections (nothing listens) for ``seconds``."""
        if self._server:
            self._server.refuse_for(seconds)
