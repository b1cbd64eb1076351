"""A Bitrix24 portal (and its OAuth server) on 127.0.0.1, for the tests and the demo.

It speaks the real wire formats of ../shared/reference/bitrix24.md: REST calls at
``{client_endpoint}{method}.json`` with form or JSON bodies, ``{error, error_description}`` errors,
the messageservice methods with their validation, ``batch``, ``event.bind``, the OAuth token endpoint
with rotating refresh tokens, ``expired_token`` once a token expires, and the per-portal leaky bucket
(2 requests/s, burst 50) answering ``QUERY_LIMIT_EXCEEDED``. It also acts as the portal towards the
app: it POSTs the install page, ONAPPINSTALL/ONAPPUNINSTALL events and HANDLER calls exactly as a
portal does (form-encoded, PHP-style keys, ``auth`` only when a human sent the SMS).

It also plays the Open Lines side of an imconnector channel: ``imconnector.register/unregister/list``,
``activate``, ``status``, ``connector.data.set``, ``send/update/delete.messages`` (one Open Lines chat per
connector, line and external chat id; a message sent twice is kept once) and ``send.status.delivery/
reading`` (``message[id]`` must be an array, as documented), plus ``imopenlines.config.list.get/get``
for the open lines. Towards the app it opens the connector's SETTING_CONNECTOR placement and POSTs
ONIMCONNECTORMESSAGEADD (an operator's reply), ONIMCONNECTORLINEDELETE and ONIMCONNECTORSTATUSDELETE.
Methods of a scope the app was not granted (``portal.scopes``) answer ``insufficient_scope``.

Every REST call is recorded (``portal.calls``) so tests can assert on what the app did.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from b24sms.formdata import decode_form, encode_form
from local.httpserver import LoopbackServer, Reply, json_reply

SENDER_CODE = re.compile(r"^[a-z0-9.\-_]+$", re.IGNORECASE)
STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")
CONNECTOR_ID = re.compile(r"^[a-z0-9_]+$")
INSUFFICIENT_SCOPE = "The request requires higher privileges than provided by the access token."
# method prefix -> the scope the app needs for it
METHOD_SCOPES = (("messageservice.", "messageservice"), ("imconnector.", "imconnector"), ("imopenlines.", "imopenlines"))


class RestError(Exception):
    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(code)
        self.status, self.code, self.description = status, code, description


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int
    error: str = ""
    in_batch: bool = False
    at: float = field(default_factory=time.time)


@dataclass
class EmulatedChatMessage:
    """A message of the external system (a client's) that the app put into an Open Lines chat."""

    external_id: str
    message_id: int  # the im message id
    text: str
    files: list[Any] = field(default_factory=list)
    date: str = ""
    history: list[str] = field(default_factory=list)  # the text as sent, then after every update
    deleted: bool = False
    delivered: bool = False  # set by imconnector.send.status.delivery naming this im message id


@dataclass
class OperatorMessage:
    """An operator's reply in an Open Lines chat: what ONIMCONNECTORMESSAGEADD carries to the app."""

    message_id: int  # the im message id
    text: str
    user_id: str
    files: list[Any] = field(default_factory=list)
    delivered: bool = False  # imconnector.send.status.delivery
    read: bool = False  # imconnector.send.status.reading
    external_ids: list[str] = field(default_factory=list)  # message[id] the app reported with a status
    at: float = field(default_factory=time.time)


@dataclass
class EmulatedChat:
    """The Open Lines chat of one (connector, line, external chat id)."""

    connector: str
    line: str
    external_id: str
    chat_id: int  # the im chat id
    session_id: int
    user_id: int  # the portal's user for the external user
    user: dict[str, Any] = field(default_factory=dict)  # user{} as the app sent it, phone included
    name: str = ""
    url: str = ""
    messages: dict[str, EmulatedChatMessage] = field(default_factory=dict)  # external message id -> message
    operator_messages: dict[int, OperatorMessage] = field(default_factory=dict)  # im message id -> reply

    def texts(self) -> list[str]:
        """The current texts of the messages that are not deleted, in the order they came."""
        return [m.text for m in self.messages.values() if not m.deleted]


def _default_lines() -> dict[str, dict[str, Any]]:
    return {"1": {"ID": "1", "LINE_NAME": "Open line 1", "ACTIVE": "Y"}}


@dataclass
class EmulatedPortal:
    name: str
    member_id: str
    domain: str
    client_endpoint: str
    server_endpoint: str
    application_token: str = field(default_factory=lambda: secrets.token_hex(16))
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expires at
    refresh_tokens: set[str] = field(default_factory=set)
    senders: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)  # event name -> handler URL
    messages: dict[str, list[str]] = field(default_factory=dict)  # message_id -> statuses, as set
    status_times: dict[str, list[float]] = field(default_factory=dict)  # message_id -> when each was set
    calls: list[Call] = field(default_factory=list)
    refreshes: int = 0
    rate: float = 2.0
    burst: float = 50.0
    bucket: float = 0.0
    bucket_at: float = field(default_factory=time.monotonic)
    limit_exceeded: int = 0
    batch_allows_messageservice: bool = True
    failures: deque[tuple[int, str, str]] = field(default_factory=deque)
    down: bool = False
    installed: bool = False
    token_ttl: float = 3600.0
    scopes: set[str] = field(default_factory=lambda: {"messageservice", "imconnector", "imopenlines"})
    connectors: dict[str, dict[str, Any]] = field(default_factory=dict)  # connector ID -> imconnector.register params
    lines: dict[str, dict[str, Any]] = field(default_factory=_default_lines)  # open line id -> its config
    active: dict[tuple[str, str], bool] = field(default_factory=dict)  # (connector, line) -> ACTIVE
    connector_data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # connector.data.set DATA
    chats: dict[tuple[str, str, str], EmulatedChat] = field(default_factory=dict)  # (connector, line, ext chat id)
    connector_users: dict[tuple[str, str], int] = field(default_factory=dict)  # (connector, ext user id) -> user id
    last_id: int = 1000  # one sequence for im chat, message, session and user ids: a mix-up shows
    # Called with (method, params) before a REST call is served, outside the emulator's lock: a test's
    # way to make something happen while the app waits for the portal (a second request, a race).
    on_call: Callable[[str, dict[str, Any]], None] | None = None

    # -- what tests look at --------------------------------------------------------------------
    def timeline(self, message_id: str) -> list[str]:
        return list(self.messages.get(message_id, []))

    def final_status(self, message_id: str) -> str:
        seen = self.messages.get(message_id) or [""]
        return seen[-1]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    @property
    def scope(self) -> str:
        """The granted scopes as Bitrix24 lists them: ``messageservice`` first."""
        first = ["messageservice"] if "messageservice" in self.scopes else []
        return ",".join(first + sorted(self.scopes - {"messageservice"}))

    def is_active(self, connector: str, line: str | int) -> bool:
        return self.active.get((connector, str(line)), False)

    @property
    def current_access_token(self) -> str:
        live = [t for t, exp in self.access_tokens.items() if exp > time.time()]
        return live[-1] if live else next(reversed(self.access_tokens), "")

    # -- what tests do to it ------------------------------------------------------------------
    def expire_tokens(self) -> None:
        for token in self.access_tokens:
            self.access_tokens[token] = 0.0

    def fail_next(self, count: int, status: int = 503, code: str = "INTERNAL_SERVER_ERROR", description: str = "") -> None:
        for _ in range(count):
            self.failures.append((status, code, description or code))

    def issue_tokens(self) -> tuple[str, str]:
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.access_tokens[access] = time.time() + self.token_ttl
        self.refresh_tokens.add(refresh)
        return access, refresh

    def add_line(self, name: str = "") -> str:
        """A new open line; returns its id."""
        line = str(max((int(k) for k in self.lines if k.isdigit()), default=0) + 1)
        self.lines[line] = {"ID": line, "LINE_NAME": name or f"Open line {line}", "ACTIVE": "Y"}
        return line

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id


class PortalEmulator:
    def __init__(
        self,
        client_id: str = "local.app",
        client_secret: str = "local-client-secret",  # noqa: S107 - the local stack's default
        rate: float = 2.0,
        burst: float = 50.0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.rate = rate
        self.burst = burst
        self.portals: dict[str, EmulatedPortal] = {}
        # Seconds the OAuth server takes to answer a refresh (outside the lock: calls overlap), so
        # that concurrent refreshes really race for our refresh lock.
        self.oauth_delay = 0.0
        self.lock = threading.RLock()
        self._server: LoopbackServer | None = None
        self.base_url = ""

    @property
    def oauth_url(self) -> str:
        return self.base_url

    def start(self) -> PortalEmulator:
        def respond(method: str, path: str, headers: dict[str, str], body: bytes, _: str) -> Reply:
            return json_reply(*self.handle(method, path, headers.get("content-type", ""), body.decode("utf-8")))

        self._server = LoopbackServer(respond).start()
        self.base_url = self._server.base_url
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()

    def add_portal(self, name: str = "", member_id: str = "", application_token: str = "") -> EmulatedPortal:
        with self.lock:
            name = name or f"portal{len(self.portals) + 1}"
            portal = EmulatedPortal(
                name=name,
                member_id=member_id or secrets.token_hex(16),
                domain=f"{name}.bitrix24.test",
                client_endpoint=f"{self.base_url}/{name}/rest/",
                server_endpoint=f"{self.base_url}/oauth/rest/",
                rate=self.rate,
                burst=self.burst,
            )
            if application_token:
                portal.application_token = application_token
            self.portals[name] = portal
            return portal

    # -- the portal calling the app --------------------------------------------------------------
    def install(self, portal: EmulatedPortal, install_url: str, via: str = "page") -> requests.Response:
        """Open the app's install page (POST, as the portal's iframe does) or send ONAPPINSTALL."""
        with self.lock:
            access, refresh = portal.issue_tokens()
            portal.installed = True
        if via == "page":
            form = {
                "AUTH_ID": access,
                "AUTH_EXPIRES": 3600,
                "REFRESH_ID": refresh,
                "SERVER_ENDPOINT": portal.server_endpoint,
                "member_id": portal.member_id,
                "status": "L",
                "PLACEMENT": "DEFAULT",
                "PLACEMENT_OPTIONS": "{}",
                "APPLICATION_SCOPE": portal.scope,
                "APPLICATION_TOKEN": portal.application_token,
            }
            query = {"DOMAIN": portal.domain, "PROTOCOL": "1", "LANG": "en", "APP_SID": secrets.token_hex(8)}
            return _post(install_url, form, params=query)
        form = {
            "event": "ONAPPINSTALL",
            "event_handler_id": "1",
            "data": {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en"},
            "ts": int(time.time()),
            "auth": self._auth_block(portal, access, refresh_token=refresh),
        }
        return _post(install_url, form)

    def uninstall(self, portal: EmulatedPortal, clean: bool = False) -> requests.Response | None:
        """Remove the app: its senders and tokens go, and ONAPPUNINSTALL reaches its bound handler."""
        with self.lock:
            handler = portal.events.get("ONAPPUNINSTALL")
            portal.installed = False
            portal.senders.clear()
            portal.events.clear()
            portal.connectors.clear()  # the app's connectors go with it; the chats stay on the portal
            portal.active.clear()
            portal.connector_data.clear()
            portal.access_tokens.clear()
            portal.refresh_tokens.clear()
        if not handler:
            return None
        form = {
            "event": "ONAPPUNINSTALL",
            "event_handler_id": "2",
            "data": {"CLEAN": "1" if clean else "0", "LANGUAGE_ID": "en"},
            "ts": int(time.time()),
            "auth": {
                "domain": portal.domain,
                "server_endpoint": portal.server_endpoint,
                "client_endpoint": portal.client_endpoint,
                "member_id": portal.member_id,
                "application_token": portal.application_token,
            },
        }
        return _post(handler, form)

    def send_sms(
        self,
        portal: EmulatedPortal,
        to: str,
        text: str,
        *,
        with_auth: bool = True,
        message_id: str | None = None,
        code: str | None = None,
    ) -> tuple[str, requests.Response]:
        """What the portal does when a user (with_auth) or a robot (without) sends an SMS."""
        with self.lock:
            if not portal.senders:
                raise RuntimeError("the app registered no sender on this portal")
            code = code or next(iter(portal.senders))
            handler = portal.senders[code]["HANDLER"]
            message_id = message_id or secrets.token_hex(16)
            timeline = portal.messages.setdefault(message_id, [])
            if not timeline:
                timeline.append("sent")  # Bitrix24 marks a message sent as it hands it to the provider
                portal.status_times[message_id] = [time.time()]
        form: dict[str, Any] = {
            "type": "SMS",
            "code": code,
            "message_id": message_id,
            "message_to": to,
            "message_body": text,
            "properties": {"phone_number": to, "message_text": text},
            "module_id": "crm",
            "bindings": [{"OWNER_TYPE_ID": "3", "OWNER_ID": "17"}, {"OWNER_TYPE_ID": "2", "OWNER_ID": "42"}],
            "ts": int(time.time()),
        }
        if with_auth:
            form["auth"] = self._auth_block(portal, portal.current_access_token)
        return message_id, _post(handler, form)

    # -- the portal's Open Lines, towards the app -----------------------------------------------------
    def chat_for(self, portal: EmulatedPortal, connector: str, line: str | int, chat_external_id: str) -> EmulatedChat | None:
        """The Open Lines chat the app's messages for this external chat went to, if any."""
        with self.lock:
            return portal.chats.get((connector, str(line), str(chat_external_id)))

    def open_connector_settings(
        self, portal: EmulatedPortal, connector: str, line: str | int, url: str | None = None, active: bool = True
    ) -> requests.Response:
        """An admin connects (active) or disconnects the channel on a line in the Contact Center: the
        portal opens the connector's PLACEMENT_HANDLER (or ``url``) in its SETTING_CONNECTOR slider."""
        with self.lock:
            handler = url or str(portal.connectors.get(connector, {}).get("PLACEMENT_HANDLER") or "")
            if not handler:
                raise RuntimeError(f"connector {connector!r} is not registered on this portal")
            if str(line) not in portal.lines:
                raise RuntimeError(f"no open line {line!r} on this portal")
            access, refresh = portal.issue_tokens()
        form = {
            "AUTH_ID": access,
            "AUTH_EXPIRES": 3600,
            "REFRESH_ID": refresh,
            "member_id": portal.member_id,
            "status": "L",
            "PLACEMENT": "SETTING_CONNECTOR",
            "PLACEMENT_OPTIONS": json.dumps(
                {"LINE": int(line) if str(line).isdigit() else line, "ACTIVE_STATUS": 1 if active else 0, "CONNECTOR": connector}
            ),
        }
        query = {"DOMAIN": portal.domain, "PROTOCOL": "1", "LANG": "en", "APP_SID": secrets.token_hex(8)}
        return _post(handler, form, params=query)

    def operator_reply(
        self,
        portal: EmulatedPortal,
        connector: str,
        line: str | int,
        chat_external_id: str,
        text: str,
        user_id: str = "1",
        files: list[dict[str, Any]] | None = None,
    ) -> tuple[int, requests.Response]:
        """An operator answers in the Open Lines chat: ONIMCONNECTORMESSAGEADD reaches the app's bound
        handler. Returns the im message id of the reply and the app's response."""
        line = str(line)
        with self.lock:
            handler = portal.events.get("ONIMCONNECTORMESSAGEADD")
            if not handler:
                raise RuntimeError("the app bound no handler to OnImConnectorMessageAdd on this portal")
            chat = portal.chats.get((connector, line, str(chat_external_id)))
            if chat is None:
                raise RuntimeError(f"no Open Lines chat for {connector}/{line}/{chat_external_id}")
            if not portal.is_active(connector, line):
                raise RuntimeError(f"connector {connector!r} is not active on line {line}: the portal would not send")
            message_id = portal.new_id()
            chat.operator_messages[message_id] = OperatorMessage(message_id, text, str(user_id), list(files or []))
            message: dict[str, Any] = {"user_id": str(user_id), "text": text}
            if files:
                message["files"] = files
            form = {
                "event": "ONIMCONNECTORMESSAGEADD",
                "event_handler_id": _handler_id(portal, "ONIMCONNECTORMESSAGEADD"),
                "data": {
                    "CONNECTOR": connector,
                    "LINE": line,
                    "MESSAGES": [
                        {
                            "im": {"chat_id": chat.chat_id, "message_id": message_id},
                            "message": message,
                            "chat": {"id": chat.external_id},
                        }
                    ],
                },
                "ts": int(time.time()),
                "auth": self._auth_block(portal, _event_token(portal)),
            }
        return message_id, _post(handler, form)

    def delete_line(self, portal: EmulatedPortal, line: str | int) -> requests.Response | None:
        """An admin deletes an open line: its activations go, ONIMCONNECTORLINEDELETE (data=<line id>) is sent."""
        line = str(line)
        with self.lock:
            if line not in portal.lines:
                raise RuntimeError(f"no open line {line!r} on this portal")
            del portal.lines[line]
            for key in [k for k in portal.active if k[1] == line]:
                del portal.active[key]
            for key in [k for k in portal.connector_data if k[1] == line]:
                del portal.connector_data[key]
            posting = self._event(portal, "ONIMCONNECTORLINEDELETE", line)
        return _post(*posting) if posting else None

    def delete_connector_status(self, portal: EmulatedPortal, connector: str, line: str | int) -> requests.Response | None:
        """The connector's status on a line is deleted (not active, not configured any more), as when an
        admin disconnects the channel: ONIMCONNECTORSTATUSDELETE (data[connector], data[line]) is sent."""
        line = str(line)
        with self.lock:
            portal.active.pop((connector, line), None)
            posting = self._event(portal, "ONIMCONNECTORSTATUSDELETE", {"connector": connector, "line": line})
        return _post(*posting) if posting else None

    def _event(self, portal: EmulatedPortal, event: str, data: Any) -> tuple[str, dict[str, Any]] | None:
        """(handler, form) of an event to the app, or None when the app bound no handler to it."""
        handler = portal.events.get(event)
        if not handler:
            return None
        form = {
            "event": event,
            "event_handler_id": _handler_id(portal, event),
            "data": data,
            "ts": int(time.time()),
            "auth": self._auth_block(portal, _event_token(portal)),
        }
        return handler, form

    def _auth_block(self, portal: EmulatedPortal, access: str, refresh_token: str = "") -> dict[str, Any]:
        block = {
            "access_token": access,
            "expires": int(time.time() + 3600),
            "expires_in": 3600,
            "scope": portal.scope,
            "domain": portal.domain,
            "server_endpoint": portal.server_endpoint,
            "status": "L",
            "client_endpoint": portal.client_endpoint,
            "member_id": portal.member_id,
            "user_id": "1",
            "application_token": portal.application_token,
        }
        if refresh_token:
            block["refresh_token"] = refresh_token
        return block

    # -- the HTTP side -----------------------------------------------------------------------------
    def handle(self, verb: str, raw_path: str, content_type: str, body: str) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        if parts.path.rstrip("/") == "/oauth/token":
            query = dict(parse_qsl(parts.query)) if verb == "GET" else decode_form(body)
            if self.oauth_delay:
                time.sleep(self.oauth_delay)
            return self._oauth(query)
        match = re.match(r"^/([^/]+)/rest/([\w.]+?)(?:\.json)?$", parts.path)
        if not match or match.group(1) not in self.portals:
            return 404, {"error": "NOT_FOUND", "error_description": "Not found"}
        portal = self.portals[match.group(1)]
        method = match.group(2).lower()
        params: dict[str, Any] = dict(decode_form(parts.query)) if parts.query else {}
        if body:
            params.update(json.loads(body) if "json" in content_type else decode_form(body))
        if portal.on_call is not None:
            portal.on_call(method, params)
        try:
            with self.lock:
                result = self._rest(portal, method, params)
            return 200, {"result": result, "time": _timing()}
        except RestError as exc:
            answer: dict[str, Any] = {"error": exc.code, "error_description": exc.description}
            if exc.code == "OPERATION_TIME_LIMIT":
                answer["time"] = _timing()  # says when the method opens again: operating_reset_at
            return exc.status, answer

    def _oauth(self, query: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if query.get("client_id") != self.client_id or query.get("client_secret") != self.client_secret:
                return 401, {"error": "invalid_client", "error_description": "Invalid client credentials"}
            if query.get("grant_type") != "refresh_token":
                return 400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}
            token = str(query.get("refresh_token", ""))
            portal = next((p for p in self.portals.values() if token in p.refresh_tokens), None)
            if portal is None:
                return 400, {"error": "invalid_grant", "error_description": "Invalid refresh token"}
            portal.refresh_tokens.discard(token)  # rotation: a refresh token is spent once
            access, refresh = portal.issue_tokens()
            portal.refreshes += 1
            return 200, {
                "access_token": access,
                "expires": int(time.time() + portal.token_ttl),
                "expires_in": int(portal.token_ttl),
                "scope": f"app,{portal.scope}",
                "domain": portal.domain,
                "server_endpoint": portal.server_endpoint,
                "status": "L",
                "client_endpoint": portal.client_endpoint,
                "member_id": portal.member_id,
                "user_id": 1,
                "refresh_token": refresh,
            }

    def _rest(self, portal: EmulatedPortal, method: str, params: dict[str, Any]) -> Any:
        token = str(params.pop("auth", "") or "")
        call = Call(method, params, 200)
        portal.calls.append(call)
        try:
            if portal.down:
                raise RestError(503, "INTERNAL_SERVER_ERROR", "Service temporarily unavailable")
            if not token:
                raise RestError(401, "NO_AUTH_FOUND", "Wrong authorization data")
            if token not in portal.access_tokens:
                raise RestError(401, "invalid_token", "The access token provided is invalid.")
            if portal.access_tokens[token] <= time.time():
                raise RestError(401, "expired_token", "The access token provided has expired.")
            self._leak(portal)
            if portal.failures:
                status, code, description = portal.failures.popleft()
                raise RestError(status, code, description)
            if method == "batch":
                return self._batch(portal, params)
            return self._method(portal, method, params)
        except RestError as exc:
            call.status, call.error = exc.status, exc.code
            raise

    def _leak(self, portal: EmulatedPortal) -> None:
        now = time.monotonic()
        portal.bucket = max(0.0, portal.bucket - (now - portal.bucket_at) * portal.rate)
        portal.bucket_at = now
        if portal.bucket + 1 > portal.burst:
            portal.limit_exceeded += 1
            raise RestError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
        portal.bucket += 1

    def _batch(self, portal: EmulatedPortal, params: dict[str, Any]) -> dict[str, Any]:
        cmd = params.get("cmd") or {}
        if not isinstance(cmd, dict) and isinstance(cmd, list):
            cmd = {str(i): c for i, c in enumerate(cmd)}
        if len(cmd) > 50:
            raise RestError(400, "ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        halt = str(params.get("halt", "0")) == "1"
        results: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for key, command in cmd.items():
            method, _, query = str(command).partition("?")
            method = method.lower()
            inner = decode_form(query) if query else {}
            call = Call(method, inner, 200, in_batch=True)
            portal.calls.append(call)
            try:
                if method.startswith("messageservice.") and not portal.batch_allows_messageservice:
                    raise RestError(400, "ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage")
                results[key] = self._method(portal, method, inner)
            except RestError as exc:
                call.status, call.error = exc.status, exc.code
                errors[key] = {"error": exc.code, "error_description": exc.description}
                if halt:
                    break
        # PHP's json_encode turns an empty map into [].
        return {"result": results or [], "result_error": errors or [], "result_total": [], "result_next": [], "result_time": []}

    def _method(self, portal: EmulatedPortal, method: str, params: dict[str, Any]) -> Any:
        for prefix, scope in METHOD_SCOPES:
            if method.startswith(prefix) and scope not in portal.scopes:
                raise RestError(401, "insufficient_scope", INSUFFICIENT_SCOPE)
        if method.startswith("imconnector."):
            return self._imconnector(portal, method, params)
        if method.startswith("imopenlines."):
            return self._imopenlines(portal, method, params)
        senders = portal.senders
        if method == "messageservice.sender.add":
            if not params:
                raise RestError(400, "ERROR_SENDER_VALIDATION_FAILURE", "Empty data!")
            code = str(params.get("CODE") or "")
            if not code:
                raise RestError(400, "ERROR_SENDER_VALIDATION_FAILURE", "Empty sender code!")
            if not SENDER_CODE.match(code) or len(code) > 128:
                raise RestError(400, "ERROR_SENDER_VALIDATION_FAILURE", "Wrong sender code!")
            if not params.get("NAME"):
                raise RestError(400, "ERROR_SENDER_VALIDATION_FAILURE", "Empty sender NAME!")
            if not params.get("TYPE"):
                raise RestError(400, "ERROR_SENDER_VALIDATION_FAILURE", "Empty sender message TYPE!")
            if params["TYPE"] != "SMS":
                raise RestError(400, "ERROR_SENDER_VALIDATION_FAILURE", "Unknown sender message TYPE!")
            _check_handler(str(params.get("HANDLER") or ""))
            if code in senders:
                raise RestError(400, "ERROR_SENDER_ALREADY_INSTALLED", "Sender already installed!")
            senders[code] = {k: params.get(k) for k in ("CODE", "TYPE", "HANDLER", "NAME", "DESCRIPTION")}
            return True
        if method == "messageservice.sender.update":
            code = str(params.get("CODE") or "")
            if not code:
                raise RestError(400, "ERROR_SENDER_CODE_REQUIRED", "Sender code is required!")
            changes = {k: params[k] for k in ("HANDLER", "NAME", "DESCRIPTION") if params.get(k)}
            if not changes:
                raise RestError(400, "ERROR_SENDER_OTHER_PARAMS_REQUIRED", "At least one other parameter is required!")
            if code not in senders:
                raise RestError(400, "ERROR_SENDER_NOT_FOUND", "Sender not found!")
            if "HANDLER" in changes:
                _check_handler(str(changes["HANDLER"]))
            senders[code].update(changes)
            return True
        if method == "messageservice.sender.delete":
            code = str(params.get("CODE") or "")
            if not code:
                raise RestError(400, "ERROR_SENDER_VALIDATION_FAILURE", "Empty sender code!")
            if code not in senders:
                raise RestError(400, "ERROR_SENDER_NOT_FOUND", "Sender not found!")
            del senders[code]
            return True
        if method == "messageservice.sender.list":
            return list(senders)
        if method == "messageservice.message.status.update":
            code, message_id, status = (str(params.get(k) or "") for k in ("CODE", "MESSAGE_ID", "STATUS"))
            if not code or not message_id or not status:
                raise RestError(400, "ERROR_MESSAGE_VALIDATION_FAILURE", "CODE, MESSAGE_ID and STATUS are required")
            if code not in senders:
                raise RestError(400, "ERROR_SENDER_NOT_FOUND", "Sender not found!")
            if status not in STATUSES:
                raise RestError(400, "ERROR_MESSAGE_STATUS_INCORRECT", "Message status incorrect!")
            if message_id not in portal.messages:
                raise RestError(400, "ERROR_MESSAGE_NOT_FOUND", "Message not found!")
            timeline = portal.messages[message_id]
            if not timeline or timeline[-1] != status:  # the same status again is a no-op
                timeline.append(status)  # no order is enforced: a late "sent" overwrites "delivered"
                portal.status_times.setdefault(message_id, []).append(time.time())
            return True
        if method == "event.bind":
            event, handler = str(params.get("event") or "").upper(), str(params.get("handler") or "")
            if not event or not handler:
                raise RestError(400, "ERROR_ARGUMENT", "event and handler are required")
            if portal.events.get(event) == handler:
                raise RestError(400, "", "Handler already binded")
            portal.events[event] = handler
            return True
        if method == "event.unbind":
            event, handler = str(params.get("event") or "").upper(), str(params.get("handler") or "")
            if event in portal.events and (not handler or portal.events[event] == handler):
                del portal.events[event]
                return {"count": 1}
            return {"count": 0}
        if method == "app.info":
            return {"ID": 1, "CODE": "local.app", "STATUS": "L", "INSTALLED": portal.installed}
        raise RestError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")

    # -- Open Lines: imconnector.* and imopenlines.* -----------------------------------------------------
    def _imconnector(self, portal: EmulatedPortal, method: str, params: dict[str, Any]) -> Any:
        if method == "imconnector.register":
            connector = _required(params, "ID")
            if not CONNECTOR_ID.match(connector):
                raise RestError(400, "ERROR_ARGUMENT", "Argument 'ID' may hold only a-z, 0-9 and _")
            _required(params, "NAME")
            icon = params.get("ICON")
            image = str(icon.get("DATA_IMAGE") or "") if isinstance(icon, dict) else ""
            if not image:
                raise RestError(400, "ERROR_ARGUMENT", "Argument 'ICON[DATA_IMAGE]' is null or empty")
            if not image.startswith("data:image/svg+xml"):
                raise RestError(400, "ERROR_ARGUMENT", "Argument 'ICON[DATA_IMAGE]' is not a data:image/svg+xml URI")
            _check_handler(_required(params, "PLACEMENT_HANDLER"))
            portal.connectors[connector] = dict(params)  # registering the same ID again updates it
            return True
        if method == "imconnector.unregister":
            connector = _required(params, "ID")
            if connector not in portal.connectors:
                raise RestError(400, "ERROR_ARGUMENT", "CONNECTOR not registered")
            del portal.connectors[connector]
            for key in [k for k in portal.active if k[0] == connector]:
                del portal.active[key]
            for key in [k for k in portal.connector_data if k[0] == connector]:
                del portal.connector_data[key]
            return True
        if method == "imconnector.list":
            return {cid: str(c.get("NAME") or cid) for cid, c in portal.connectors.items()} or []
        connector, line = _required(params, "CONNECTOR"), _required(params, "LINE")
        if method == "imconnector.activate":
            self._known(portal, connector, line)
            flag = str(params.get("ACTIVE", "")).strip().lower()
            if flag not in ("1", "0", "y", "n", "true", "false"):
                raise RestError(400, "ERROR_ARGUMENT", "Argument 'ACTIVE' must be 1 or 0")
            portal.active[(connector, line)] = flag in ("1", "y", "true")
            return True
        if method == "imconnector.status":
            self._known(portal, connector, line)
            return {
                "LINE": params["LINE"],
                "CONNECTOR": connector,
                "ERROR": False,
                "CONFIGURED": (connector, line) in portal.active,
                "STATUS": portal.is_active(connector, line),
            }
        if method == "imconnector.connector.data.set":
            self._known(portal, connector, line)
            data = params.get("DATA")
            if not isinstance(data, dict) or not data:
                raise RestError(400, "ERROR_ARGUMENT", "Argument 'DATA' is null or empty")
            portal.connector_data[(connector, line)] = dict(data)
            return True
        if method in ("imconnector.send.messages", "imconnector.update.messages", "imconnector.delete.messages"):
            messages = self._open_line(portal, connector, line, params)
            act = {"send": self._receive, "update": self._update, "delete": self._delete}[method.split(".")[1]]
            return {"SUCCESS": True, "DATA": {"RESULT": [act(portal, connector, line, m) for m in messages]}}
        if method in ("imconnector.send.status.delivery", "imconnector.send.status.reading"):
            messages = self._open_line(portal, connector, line, params)
            reading = method.endswith(".reading")
            return {"SUCCESS": True, "DATA": {"RESULT": [self._status(portal, connector, line, m, reading) for m in messages]}}
        raise RestError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")

    def _imopenlines(self, portal: EmulatedPortal, method: str, params: dict[str, Any]) -> Any:
        if method == "imopenlines.config.list.get":
            return [dict(config) for config in portal.lines.values()]
        if method == "imopenlines.config.get":
            line = _required(params, "CONFIG_ID")
            if line not in portal.lines:
                raise RestError(400, "CONFIG_NOT_FOUND", "Open line not found")
            return dict(portal.lines[line])
        raise RestError(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")

    @staticmethod
    def _known(portal: EmulatedPortal, connector: str, line: str) -> None:
        if connector not in portal.connectors:
            raise RestError(400, "ERROR_ARGUMENT", "CONNECTOR not registered")
        if line not in portal.lines:
            raise RestError(400, "ERROR_ARGUMENT", "The line with this ID does not exist")

    @staticmethod
    def _open_line(portal: EmulatedPortal, connector: str, line: str, params: dict[str, Any]) -> list[Any]:
        """The checks of the message methods, in Bitrix24's order; the MESSAGES, as a list."""
        messages = params.get("MESSAGES")
        if isinstance(messages, dict):  # a PHP form list that is not 0..n-1, or a JSON object
            if not all(str(k).isdigit() for k in messages):
                raise RestError(400, "ERROR_ARGUMENT", "Argument 'MESSAGES' is not an array")
            messages = [messages[k] for k in sorted(messages, key=lambda k: int(k))]
        if not messages or not isinstance(messages, list):
            raise RestError(400, "ERROR_ARGUMENT", "Argument 'MESSAGES' is null or empty")
        if connector not in portal.connectors:
            raise RestError(400, "ERROR_NO_CORRECT_PROVIDER", "Failed to find a suitable provider for the connector")
        if line not in portal.lines or not portal.is_active(connector, line):
            raise RestError(400, "NOT_ACTIVE_LINE", "The line with this ID is inactive or does not exist")
        return messages

    @staticmethod
    def _parts(entry: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]:
        """user{}, message{}, chat{} of a MESSAGES entry and what is wrong with it."""
        entry = entry if isinstance(entry, dict) else {}
        user, message, chat = (entry.get(k) if isinstance(entry.get(k), dict) else {} for k in ("user", "message", "chat"))
        parts = (("user", user), ("message", message), ("chat", chat))
        errors = [f"Argument '{name}[id]' is null or empty" for name, part in parts if not part.get("id")]
        return user, message, chat, errors

    def _receive(self, portal: EmulatedPortal, connector: str, line: str, entry: Any) -> dict[str, Any]:
        user, message, chat_in, errors = self._parts(entry)
        files = _as_list(message.get("files"))
        if not errors and not str(message.get("text") or "") and not files:
            errors.append("Message text or files are required")
        if errors:
            return {"user": str(user.get("id") or ""), "SUCCESS": False, "ERRORS": errors}
        user_key = (connector, str(user["id"]))
        if user_key not in portal.connector_users:
            portal.connector_users[user_key] = portal.new_id()
        key = (connector, line, str(chat_in["id"]))
        chat = portal.chats.get(key)
        if chat is None:
            user_id = portal.connector_users[user_key]
            chat = EmulatedChat(connector, line, key[2], chat_id=portal.new_id(), session_id=portal.new_id(), user_id=user_id)
            portal.chats[key] = chat
        chat.user.update(user)
        chat.name = str(chat_in.get("name") or chat.name)
        chat.url = str(chat_in.get("url") or chat.url)
        external_id = str(message["id"])
        stored = chat.messages.get(external_id)
        if stored is None:  # the same external id again is the same message: nothing new is recorded
            text = str(message.get("text") or "")
            stored = EmulatedChatMessage(external_id, portal.new_id(), text, files, str(message.get("date") or ""), [text])
            chat.messages[external_id] = stored
        return {
            "user": str(chat.user_id),
            "message": [stored.message_id],
            "chat": [chat.chat_id],
            "session": {"ID": chat.session_id, "CHAT_ID": chat.chat_id},
            "SUCCESS": True,
            "ERRORS": [],
        }

    def _find(
        self, portal: EmulatedPortal, connector: str, line: str, entry: Any
    ) -> tuple[EmulatedChatMessage | None, dict[str, Any]]:
        """(message, answer) for update/delete: no message and SUCCESS false when it is not there."""
        _, message, chat_in, errors = self._parts(entry)
        chat = portal.chats.get((connector, line, str(chat_in.get("id") or "")))
        stored = chat.messages.get(str(message.get("id") or "")) if chat else None
        if not errors and (stored is None or stored.deleted):
            errors = ["Message not found"]
        answer: dict[str, Any] = {
            "user": str(chat.user_id) if chat else "",
            "message": {"id": str(message.get("id") or "")},
            "chat": {"id": str(chat_in.get("id") or "")},
        }
        if chat is not None:
            answer["chat"].update(name=chat.name, description=f"Link to the original post: {chat.url}" if chat.url else "")
        if errors:
            return None, {**answer, "SUCCESS": False, "ERRORS": errors}
        return stored, answer

    def _update(self, portal: EmulatedPortal, connector: str, line: str, entry: Any) -> dict[str, Any]:
        stored, answer = self._find(portal, connector, line, entry)
        if stored is None:
            return answer
        message = entry["message"]
        if "text" not in message and "files" not in message:
            return {**answer, "SUCCESS": False, "ERRORS": ["Message text or files are required"]}
        if "text" in message:
            stored.text = str(message.get("text") or "")
        if "files" in message:
            stored.files = _as_list(message["files"])
        stored.history.append(stored.text)
        answer["message"].update(date={}, text=stored.text)  # date: PHP's DateTime, json-encoded as {}
        if stored.files:
            answer["message"]["files"] = stored.files
        return {**answer, "SUCCESS": True}

    def _delete(self, portal: EmulatedPortal, connector: str, line: str, entry: Any) -> dict[str, Any]:
        stored, answer = self._find(portal, connector, line, entry)
        if stored is None:
            return answer
        stored.deleted = True
        return {**answer, "SUCCESS": True}

    @staticmethod
    def _status(portal: EmulatedPortal, connector: str, line: str, entry: Any, reading: bool) -> dict[str, Any]:
        entry = entry if isinstance(entry, dict) else {}
        im, message, chat_in = (entry.get(k) if isinstance(entry.get(k), dict) else {} for k in ("im", "message", "chat"))
        answer: dict[str, Any] = {"im": im, "message": message, "chat": chat_in}
        chat_id, message_id = _int(im.get("chat_id")), _int(im.get("message_id"))
        if not chat_id or not message_id:
            return {**answer, "SUCCESS": False, "ERRORS": ["Argument 'im[chat_id]' or 'im[message_id]' is null or empty"]}
        chats = (c for c in portal.chats.values() if c.chat_id == chat_id and c.connector == connector and c.line == line)
        chat = next(chats, None)
        if chat is None or (chat_in.get("id") and str(chat_in["id"]) != chat.external_id):
            return {**answer, "SUCCESS": False, "ERRORS": ["Chat not found"]}
        reply = chat.operator_messages.get(message_id)
        own = next((m for m in chat.messages.values() if m.message_id == message_id), None)
        if reply is None and own is None:
            return {**answer, "SUCCESS": False, "ERRORS": ["Message not found"]}
        # message[id] is an array of external ids, "even if there is one" (the method's documentation)
        ids = [str(i) for i in _as_list(message.get("id")) if str(i)]  # a scalar is no array: no ids
        if not ids:
            return {**answer, "SUCCESS": False, "ERRORS": ["Argument 'message[id]' must be an array of external ids"]}
        if reply is not None:
            reply.delivered = True  # a message read was delivered
            reply.read = reply.read or reading
            reply.external_ids.extend(i for i in ids if i not in reply.external_ids)
        if own is not None:
            own.delivered = True
        return {**answer, "SUCCESS": True}


def _required(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value is None or isinstance(value, (dict, list)) or str(value) in ("", "0"):  # PHP's empty()
        raise RestError(400, "ERROR_ARGUMENT", f"Argument '{name}' is null or empty")
    return str(value)


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


def _as_list(value: Any) -> list[Any]:
    """A list as JSON sends it, or as a PHP form map keyed 0, 1, ...; anything else is no list."""
    if isinstance(value, dict):
        return [value[k] for k in sorted(value, key=lambda k: int(k) if str(k).isdigit() else 0)]
    return list(value) if isinstance(value, list) else []


def _handler_id(portal: EmulatedPortal, event: str) -> str:
    return str(list(portal.events).index(event) + 1) if event in portal.events else "0"


def _event_token(portal: EmulatedPortal) -> str:
    """The access token an event carries: a live one, a fresh one if none is (the portal mints one)."""
    if any(exp > time.time() for exp in portal.access_tokens.values()):
        return portal.current_access_token
    access = secrets.token_hex(16)
    portal.access_tokens[access] = time.time() + portal.token_ttl
    return access


def _check_handler(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RestError(400, "ERROR_UNSUPPORTED_PROTOCOL", "Unsupported protocol")
    if not parts.hostname or "." not in parts.hostname or len(url) > 1000:
        raise RestError(400, "ERROR_WRONG_HANDLER_URL", "Wrong handler URL")


def _timing() -> dict[str, Any]:
    now = time.time()
    return {"start": now, "finish": now, "duration": 0.0, "processing": 0.0, "operating_reset_at": int(now) + 600, "operating": 0}


def _post(url: str, form: dict[str, Any], params: dict[str, str] | None = None) -> requests.Response:
    return requests.post(
        url,
        params=params,
        data=encode_form(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Bitrix24 Webhook Engine"},
        timeout=30,
    )
