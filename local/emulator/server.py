"""The emulator on the wire: one loopback HTTP server routing ``/oauth/token/`` to the OAuth server
and ``/{portal}/rest/{method}[.json]`` (a form or JSON body, params also in the query) to the REST
room, and turning a RestError into Bitrix24's ``{error, error_description}``."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.emulator import apppage, oauth, rest
from local.emulator.forms import decode_form
from local.emulator.params import RestError
from local.emulator.state import EmulatorState
from local.httpserver import LoopbackServer, Reply, json_reply

REST_PATH = re.compile(r"^/([^/]+)/rest/([\w.]+?)(?:\.json)?$")


def handle(state: EmulatorState, verb: str, raw_path: str, content_type: str, body: str) -> tuple[int, dict[str, Any]]:
    """(status, JSON answer) of one request."""
    parts = urlsplit(raw_path)
    if parts.path.rstrip("/") == "/oauth/token":
        query = dict(parse_qsl(parts.query)) if verb == "GET" else decode_form(body)
        return oauth.token(state, query)
    match = REST_PATH.match(parts.path)
    if not match or match.group(1) not in state.portals:
        return 404, {"error": "NOT_FOUND", "error_description": "Not found"}
    portal = state.portals[match.group(1)]
    method = match.group(2).lower()
    params: dict[str, Any] = dict(decode_form(parts.query)) if parts.query else {}
    if body:
        params.update(json.loads(body) if "json" in content_type else decode_form(body))
    if portal.on_call is not None:
        portal.on_call(method, params)
    if portal.delay:
        time.sleep(portal.delay)  # outside the lock: a slow portal holds up only its own callers
    try:
        with state.lock:
            result = rest.serve(portal, method, params)
        return 200, {"result": result, "time": rest.timing()}
    except RestError as exc:
        answer: dict[str, Any] = {"error": exc.code, "error_description": exc.description}
        if exc.code == "OPERATION_TIME_LIMIT":
            answer["time"] = rest.timing()  # says when the method opens again: operating_reset_at
        return exc.status, answer


def listen(state: EmulatorState, port: int = 0, main: bool = True) -> LoopbackServer:
    """Start serving ``state`` on a loopback port (``0``: a free one); the ``main`` server sets
    ``state.base_url``, another one (a portal's own endpoint, ``endpoint.py``) serves the same routes."""

    def respond(method: str, path: str, headers: dict[str, str], body: bytes, _: str) -> Reply:
        page = apppage.frame(state, path) if method == "GET" else None
        if page is not None:
            return page
        return json_reply(*handle(state, method, path, headers.get("content-type", ""), body.decode("utf-8")))

    server = LoopbackServer(respond, port=port).start()
    if main:
        state.base_url = server.base_url
    return server
