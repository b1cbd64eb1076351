"""The portal's REST API: a table from method name to function (``METHODS``: messageservice.*, event.*,
app.info, the Open Lines methods of ``imconnector`` and the CRM and notification methods of ``crm``),
``batch`` around it, and what every call goes through first, in the portal's order: the portal being
down, the access token (missing, unknown, ``expired_token``), the leaky bucket (``QUERY_LIMIT_EXCEEDED``),
faults a test queued with
``fail_next``, then the scope the method needs (``insufficient_scope``). Every call is recorded in
``portal.calls``."""

from __future__ import annotations

import re
import time
from typing import Any

from local.emulator import crm, imconnector
from local.emulator.forms import decode_form
from local.emulator.params import Method, RestError, check_handler, not_found
from local.emulator.state import Call, EmulatedPortal

SENDER_CODE = re.compile(r"^[a-z0-9.\-_]+$", re.IGNORECASE)
STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")
INSUFFICIENT_SCOPE = "The request requires higher privileges than provided by the access token."
# method prefix -> the scope the app needs for it
METHOD_SCOPES = (
    ("messageservice.", "messageservice"),
    ("imconnector.", "imconnector"),
    ("imopenlines.", "imopenlines"),
    ("crm.", "crm"),
    ("im.", "im"),
)


# -- messageservice.* ------------------------------------------------------------------------------
def sender_add(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
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
    check_handler(str(params.get("HANDLER") or ""))
    if code in portal.senders:
        raise RestError(400, "ERROR_SENDER_ALREADY_INSTALLED", "Sender already installed!")
    portal.senders[code] = {k: params.get(k) for k in ("CODE", "TYPE", "HANDLER", "NAME", "DESCRIPTION")}
    return True


def sender_update(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    code = str(params.get("CODE") or "")
    if not code:
        raise RestError(400, "ERROR_SENDER_CODE_REQUIRED", "Sender code is required!")
    changes = {k: params[k] for k in ("HANDLER", "NAME", "DESCRIPTION") if params.get(k)}
    if not changes:
        raise RestError(400, "ERROR_SENDER_OTHER_PARAMS_REQUIRED", "At least one other parameter is required!")
    if code not in portal.senders:
        raise RestError(400, "ERROR_SENDER_NOT_FOUND", "Sender not found!")
    if "HANDLER" in changes:
        check_handler(str(changes["HANDLER"]))
    portal.senders[code].update(changes)
    return True


def sender_delete(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    code = str(params.get("CODE") or "")
    if not code:
        raise RestError(400, "ERROR_SENDER_VALIDATION_FAILURE", "Empty sender code!")
    if code not in portal.senders:
        raise RestError(400, "ERROR_SENDER_NOT_FOUND", "Sender not found!")
    del portal.senders[code]
    return True


def sender_list(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    return list(portal.senders)


def status_update(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    code, message_id, status = (str(params.get(k) or "") for k in ("CODE", "MESSAGE_ID", "STATUS"))
    if not code or not message_id or not status:
        raise RestError(400, "ERROR_MESSAGE_VALIDATION_FAILURE", "CODE, MESSAGE_ID and STATUS are required")
    if code not in portal.senders:
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


# -- event.*, app.info -------------------------------------------------------------------------------
def event_bind(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    event, handler = str(params.get("event") or "").upper(), str(params.get("handler") or "")
    if not event or not handler:
        raise RestError(400, "ERROR_ARGUMENT", "event and handler are required")
    if portal.events.get(event) == handler:
        raise RestError(400, "", "Handler already binded")
    portal.events[event] = handler
    return True


def event_unbind(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    event, handler = str(params.get("event") or "").upper(), str(params.get("handler") or "")
    if event in portal.events and (not handler or portal.events[event] == handler):
        del portal.events[event]
        return {"count": 1}
    return {"count": 0}


def event_get(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    """The app's bindings, as Bitrix24 lists them (one handler per event here)."""
    return [{"event": event, "handler": handler, "auth_type": "0", "offline": 0} for event, handler in portal.events.items()]


def app_info(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    return {"ID": 1, "CODE": "local.app", "VERSION": portal.app_version, "STATUS": "L", "INSTALLED": portal.installed}


# -- user.* ----------------------------------------------------------------------------------------
def _caller(portal: EmulatedPortal, params: dict[str, Any]) -> dict[str, Any]:
    user_id = portal.token_users.get(str(params.get("_token") or ""), "1")
    return portal.users.get(user_id) or {"ID": user_id, "ADMIN": False}


def user_current(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    """Who the access token belongs to (no ADMIN field: that is user.admin's)."""
    return {k: v for k, v in _caller(portal, params).items() if k != "ADMIN"}


def user_admin(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    return bool(_caller(portal, params).get("ADMIN"))


# Every method a portal answers, by its lower-cased name. ``batch`` is not in it: it is the envelope
# around these, and inside a batch it is not found.
METHODS: dict[str, Method] = {
    "messageservice.sender.add": sender_add,
    "messageservice.sender.update": sender_update,
    "messageservice.sender.delete": sender_delete,
    "messageservice.sender.list": sender_list,
    "messageservice.message.status.update": status_update,
    "event.bind": event_bind,
    "event.unbind": event_unbind,
    "event.get": event_get,
    "app.info": app_info,
    "user.current": user_current,
    "user.admin": user_admin,
    **imconnector.METHODS,
    **crm.METHODS,
}


def dispatch(portal: EmulatedPortal, method: str, params: dict[str, Any]) -> Any:
    """One method, alone or in a batch: the scope it needs first, then the method itself."""
    for prefix, scope in METHOD_SCOPES:
        if method.startswith(prefix) and scope not in portal.scopes:
            raise RestError(401, "insufficient_scope", INSUFFICIENT_SCOPE)
    function = METHODS.get(method)
    if function is None:
        raise not_found()
    return function(portal, params)


def batch(portal: EmulatedPortal, params: dict[str, Any]) -> dict[str, Any]:
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
            results[key] = dispatch(portal, method, inner)
        except RestError as exc:
            call.status, call.error = exc.status, exc.code
            errors[key] = {"error": exc.code, "error_description": exc.description}
            if halt:
                break
    # PHP's json_encode turns an empty map into [].
    return {"result": results or [], "result_error": errors or [], "result_total": [], "result_next": [], "result_time": []}


def leak(portal: EmulatedPortal) -> None:
    """The portal's leaky bucket: ``rate`` requests a second drain it, ``burst`` fill it."""
    now = time.monotonic()
    portal.bucket = max(0.0, portal.bucket - (now - portal.bucket_at) * portal.rate)
    portal.bucket_at = now
    if portal.bucket + 1 > portal.burst:
        portal.limit_exceeded += 1
        raise RestError(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
    portal.bucket += 1


def serve(portal: EmulatedPortal, method: str, params: dict[str, Any]) -> Any:
    """A REST call as it arrives (``auth`` among the params): recorded, checked, answered. The
    caller holds the emulator's lock."""
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
        leak(portal)
        if portal.failures:
            status, code, description = portal.failures.popleft()
            raise RestError(status, code, description)
        if method == "batch":
            return batch(portal, params)
        if method.startswith("user."):
            params["_token"] = token  # whose token it is decides the answer
        return dispatch(portal, method, params)
    except RestError as exc:
        call.status, call.error = exc.status, exc.code
        raise


def timing() -> dict[str, Any]:
    """The ``time`` block of an answer."""
    now = time.time()
    return {"start": now, "finish": now, "duration": 0.0, "processing": 0.0, "operating_reset_at": int(now) + 600, "operating": 0}
