"""A Bitrix24 portal (and its OAuth server) on 127.0.0.1, for the tests and the demo.

It speaks the real wire formats of ../shared/reference/bitrix24.md: REST calls at
``{client_endpoint}{method}.json`` with form or JSON bodies, ``{error, error_description}`` errors,
the messageservice methods with their validation, ``batch``, ``event.bind``, the OAuth token endpoint
with rotating refresh tokens, ``expired_token`` once a token expires, and the per-portal leaky bucket
(2 requests/s, burst 50) answering ``QUERY_LIMIT_EXCEEDED``. It also acts as the portal towards the
app: it POSTs the install page, ONAPPINSTALL/ONAPPUNINSTALL events and HANDLER calls exactly as a
portal does (form-encoded, PHP-style keys, ``auth`` only when a human sent the SMS).

Every REST call is recorded (``portal.calls``) so tests can assert on what the app did.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from b24sms.formdata import decode_form, encode_form
from local.httpserver import LoopbackServer, Reply, json_reply

SENDER_CODE = re.compile(r"^[a-z0-9.\-_]+$", re.IGNORECASE)
STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")


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

    # -- what tests look at --------------------------------------------------------------------
    def timeline(self, message_id: str) -> list[str]:
        return list(self.messages.get(message_id, []))

    def final_status(self, message_id: str) -> str:
        seen = self.messages.get(message_id) or [""]
        return seen[-1]

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

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
                "APPLICATION_SCOPE": "messageservice",
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

    def _auth_block(self, portal: EmulatedPortal, access: str, refresh_token: str = "") -> dict[str, Any]:
        block = {
            "access_token": access,
            "expires": int(time.time() + 3600),
            "expires_in": 3600,
            "scope": "messageservice",
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
            return self._oauth(query)
        match = re.match(r"^/([^/]+)/rest/([\w.]+?)(?:\.json)?$", parts.path)
        if not match or match.group(1) not in self.portals:
            return 404, {"error": "NOT_FOUND", "error_description": "Not found"}
        portal = self.portals[match.group(1)]
        method = match.group(2).lower()
        params: dict[str, Any] = dict(decode_form(parts.query)) if parts.query else {}
        if body:
            params.update(json.loads(body) if "json" in content_type else decode_form(body))
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
                "scope": "app,messageservice",
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
