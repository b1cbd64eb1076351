"""A portal's REST endpoint on a listening socket of its own, for a portal that refuses connections
for a while (down for maintenance, a firewall, a crashed front): ``close`` stops listening (a new
connection is refused) and resets the connections that are open (a pooled keep-alive connection gets
no answer either); ``open`` listens again on the same port, so the ``client_endpoint`` the app stored
at install works again. Unlike ``portal.down`` (a 503 answer), the app sees network errors here."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from local.emulator import server
from local.emulator.state import EmulatorState
from local.httpserver import LoopbackServer


class PortalEndpoint:
    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.port = 0
        self._server: LoopbackServer | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def listening(self) -> bool:
        return self._server is not None

    def open(self) -> str:
        """Listen (again, on the same port once it had one); the endpoint's base URL."""
        if self._server is None:
            self._server = server.listen(self.state, port=self.port, main=False)
            self.port = self._server.port
            accept = self._server.server.get_request

            def tracked() -> tuple[socket.socket, Any]:
                connection, address = accept()
                with self._lock:
                    self._connections.add(connection)
                return connection, address

            self._server.server.get_request = tracked  # type: ignore[method-assign]
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        """Stop listening and reset every connection still open."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):  # closed by its handler already
                connection.shutdown(socket.SHUT_RDWR)
