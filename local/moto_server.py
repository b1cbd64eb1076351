"""moto's server for the local stack, with DynamoDB requests serialised: on a thread of this process
(``MotoThread``) or in a child process of its own (``MotoProcess``, ``serve_moto``)."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from local.template import ROOT


# -- moto's server ---------------------------------------------------------------------------------
# moto's DynamoDB is not thread-safe: update_item and put_item read the item, check the condition and
# write without a lock, and its server answers each request on a thread of its own. Two conditional
# writes racing on one item could then both succeed (six threads sending the same conditional claim
# got two winners in 28 of 150 rounds), which real DynamoDB never allows: our exactly-once guarantees
# rest on it. So every DynamoDB request goes through one lock: each conditional write is atomic, and
# no read sees half a write. SQS requests are not held up by it (a long poll would block everything).
def serialise_dynamodb(app: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap moto's WSGI app so that DynamoDB requests run one at a time."""
    lock = threading.Lock()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            response = app(environ, start_response)
            try:
                return list(response)  # the whole answer is produced under the lock
            finally:
                close = getattr(response, "close", None)
                if close:
                    close()

    return wsgi


def _moto_app() -> Callable[..., Any]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from local import moto_speed

    moto_speed.quicken()  # a deep queue (a fleet's campaigns) answers as fast as a shallow one
    return serialise_dynamodb(DomainDispatcherApplication(create_backend_app))


def serve_moto(port: int, host: str = "127.0.0.1", parent: int = 0) -> None:
    """moto's server with DynamoDB serialised, in the foreground (what ``MotoProcess`` runs); it
    ends itself when process ``parent`` is gone (killed, or exited without stopping it)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import run_simple

    if parent:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    run_simple(host, port, _moto_app(), threaded=True, request_handler=MotoRequestHandler)


def _exit_with(parent: int) -> None:
    """End this process once ``parent`` is no longer its parent (an orphan is adopted by another)."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


class MotoThread:
    """moto's server on a thread of this process (as moto's ThreadedMotoServer, DynamoDB serialised)."""

    def __init__(self, port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", port, _moto_app(), threaded=True, request_handler=MotoRequestHandler)
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


class MotoProcess:
    """moto's server as a child process (on another core), with DynamoDB serialised: ``serve_moto``."""

    def __init__(self, port: int = 0) -> None:
        import socket
        import subprocess

        if not port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self.port = port
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and moto
            [sys.executable, "-c", f"from local.moto_server import serve_moto; serve_moto({int(port)}, parent={os.getpid()})"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Stopped at exit even when nobody calls stop() (a failed run, a replaced stop); if this process
        # is killed instead, the server sees it is orphaned and ends itself (serve_moto's ``parent``).
        atexit.register(self.stop)
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Firmly: SIGTERM, a short wait, then SIGKILL (a busy server has been seen to ignore SIGTERM)."""
        import subprocess

        atexit.unregister(self.stop)
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
