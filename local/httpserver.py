"""The one HTTP server the local pieces share (the stack, the portal emulator, the carrier fakes):
threaded HTTP/1.1 on loopback, quiet, handing each request to a plain function."""

from __future__ import annotations

import json
import logging
import socket
import struct
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], bytes]
# (method, raw path with query, lower-cased headers, body, client address) -> (status, headers, body)
Responder = Callable[[str, str, dict[str, str], bytes, str], Reply]


class Hangup(Exception):
    """Raised by a responder to drop the connection instead of answering: ``partial`` (raw bytes, maybe
    none) is written first; ``reset`` closes abortively (SO_LINGER 0: the peer gets an RST, not a FIN)."""

    def __init__(self, partial: bytes = b"", reset: bool = False) -> None:
        super().__init__("hang up")
        self.partial = partial
        self.reset = reset


logger = logging.getLogger(__name__)

# A peer that goes away: the app's HTTP client timing out, a fake's callback thread at shutdown, a
# test's abortive close. Expected on loopback; anything else is a bug and keeps its traceback.
DISCONNECTS = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a burst of connections while the accept loop waits for
    # the CPU (a loaded machine) overflowed it and the extra ones were reset. The kernel caps it (somaxconn).
    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, DISCONNECTS):
            logger.debug("%s:%s dropped the connection (%s)", *client_address[:2], type(error).__name__)
            return
        super().handle_error(request, client_address)


def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode()


class LoopbackServer:
    def __init__(self, respond: Responder, port: int = 0, host: str = "127.0.0.1") -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once, not 40 ms apart (Nagle + delayed ACK)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, reply_headers, payload = respond(self.command, self.path, headers, body, self.client_address[0])
                except Hangup as hangup:
                    self._hang_up(hangup)
                    return
                self.send_response(status)
                for name, value in reply_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _hang_up(self, hangup: Hangup) -> None:
                self.close_connection = True
                if hangup.partial:
                    self.wfile.write(hangup.partial)
                if hangup.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.rfile.close()  # the last reference besides the socket's own: close() now sends the RST
                    self.connection.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self.server = _Server((host, port), Handler)
        self._serving = False
        self.port = int(self.server.server_address[1])
        self.base_url = f"http://{host}:{self.port}"

    def start(self) -> LoopbackServer:
        self._serving = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._serving:  # shutdown() would wait forever for a server never started
            self.server.shutdown()
        self.server.server_close()
