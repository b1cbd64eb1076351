"""Where an outgoing SMS is accepted: the HANDLER call is authenticated, validated, recorded once
and queued for dispatch. Nothing here waits for the carrier."""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import queues, store
from b24sms.adapters.config import get_settings, handler_portal_cache
from b24sms.domain.errors import Forbidden, Invalid, NotAuthenticated
from b24sms.domain.models import Message, Portal
from b24sms.domain.privacy import mask_phone

logger = Logger(child=True)

MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_BODY = 10_000
MAX_PHONE = 32  # E.164 has at most 15 digits; room for spaces, dashes, brackets and a "+"
MAX_NAME = 64  # module_id, code: short identifiers
SENDER_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")  # what a CODE we register looks like
MAX_MEMBER_ID, MAX_KEY = 64, 128  # the HANDLER URL's portal and key
MAX_BINDINGS = 10  # CRM items one SMS is bound to (a deal and its contact, a company): room and a bound
BINDING_ID = re.compile(r"[1-9][0-9]{0,11}")  # OWNER_TYPE_ID (1 lead … smart processes 128+), OWNER_ID


@dataclass(frozen=True)
class OutgoingSms:
    message_id: str
    to: str
    body: str
    code: str
    module_id: str = ""
    bindings: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class AcceptResult:
    message_id: str
    duplicate: bool


def authenticate_handler(query: dict[str, str]) -> Portal:
    """The HANDLER URL names the portal and carries its secret: both must match an installed portal.
    The portal is kept a few seconds per warm Lambda (``HANDLER_PORTAL_CACHE``): a campaign's calls cost
    one read, an uninstall is refused within those seconds. Only a success is kept, and a key the kept
    portal does not match is checked against a fresh read before it is refused (a rotated secret)."""
    member_id = query.get("portal", "")
    key = query.get("key", "")
    if not member_id or not key:
        raise NotAuthenticated("the handler URL must carry portal and key")
    if len(member_id) > MAX_MEMBER_ID or len(key) > MAX_KEY:
        raise NotAuthenticated("unknown portal or wrong key")
    kept = _kept(member_id)
    if kept is not None and _key_matches(kept, key):
        return kept
    portal = _read(member_id)
    if portal is None or not _key_matches(portal, key):
        raise NotAuthenticated("unknown portal or wrong key")
    _PORTALS[member_id] = (time.monotonic(), portal)
    return portal


_PORTALS: dict[str, tuple[float, Portal]] = {}  # authenticated portals, per warm Lambda


def _kept(member_id: str) -> Portal | None:
    cached = _PORTALS.get(member_id)
    if cached and time.monotonic() - cached[0] < handler_portal_cache():
        return cached[1]
    _PORTALS.pop(member_id, None)
    return None


def _read(member_id: str) -> Portal | None:
    """The portal as stored now (consistent), forgotten from the cache until it authenticates again."""
    _PORTALS.pop(member_id, None)
    return store.portals.get_portal(member_id)


def _key_matches(portal: Portal | None, key: str) -> bool:
    expected = portal.handler_secret if portal and portal.installed else ""
    # Compare even when there is nothing to compare with, so timing does not tell portals apart.
    return hmac.compare_digest(key.encode(), (expected or secrets.token_urlsafe(32)).encode()) and bool(expected)


def check_auth_block(portal: Portal, form: dict[str, Any]) -> Portal:
    """Calls with a human author carry ``auth``: its member_id and application_token must match
    (a kept portal's token that does not is read afresh first). Returns the portal as checked."""
    auth = form.get("auth")
    if auth is None:
        return portal
    if not isinstance(auth, dict):
        raise Invalid("auth must be a block of fields")
    if _auth_matches(portal, auth):
        return portal
    fresh = _read(portal.member_id)
    if fresh is None or not fresh.installed or fresh.handler_secret != portal.handler_secret:
        raise NotAuthenticated("unknown portal or wrong key")  # uninstalled, or the key rotated meanwhile
    if not _auth_matches(fresh, auth):
        raise Forbidden("auth does not match this portal's application_token")
    _PORTALS[fresh.member_id] = (time.monotonic(), fresh)
    return fresh


def _auth_matches(portal: Portal, auth: dict[str, Any]) -> bool:
    return str(auth.get("member_id", "")) == portal.member_id and hmac.compare_digest(
        str(auth.get("application_token", "")).encode(), portal.application_token.encode()
    )


def sender_codes(portal: Portal, form: dict[str, Any]) -> Collection[str]:
    """The portal's added senders' codes, for ``parse_outgoing``; read afresh when the call names a
    code the kept portal does not have (a sender added a moment ago)."""
    code = form.get("code")
    if not isinstance(code, str) or code == get_settings().sender_code or code in portal.senders:
        return portal.senders
    if not SENDER_CODE.fullmatch(code):  # not one a page could have added: no read
        return portal.senders
    fresh = _read(portal.member_id)
    if fresh is None or not fresh.installed or fresh.handler_secret != portal.handler_secret:
        return portal.senders
    _PORTALS[fresh.member_id] = (time.monotonic(), fresh)
    return fresh.senders


def parse_outgoing(form: dict[str, Any], codes: Collection[str] = ()) -> OutgoingSms:
    """The fields Bitrix24 posts to the HANDLER; ``properties[...]`` stand in for the flat ones.
    ``codes``: the portal's added senders, whose CODE picks their own settings."""
    props = form.get("properties") if isinstance(form.get("properties"), dict) else {}
    assert isinstance(props, dict)
    message_id = form.get("message_id")
    to = form.get("message_to") or props.get("phone_number")
    body = form.get("message_body") or props.get("message_text")
    problems = []
    if not isinstance(message_id, str) or not MESSAGE_ID.match(message_id):
        problems.append("message_id (1-64 letters, digits, - or _)")
    if not isinstance(to, str) or len(to) > MAX_PHONE or not any(ch.isdigit() for ch in to):
        problems.append(f"message_to (a phone number, at most {MAX_PHONE} characters)")
    if not isinstance(body, str) or not body.strip():
        problems.append("message_body (non-empty text)")
    elif len(body) > MAX_BODY:
        problems.append(f"message_body (at most {MAX_BODY} characters)")
    module_id = form.get("module_id", "")
    if not isinstance(module_id, str) or len(module_id) > MAX_NAME:
        problems.append(f"module_id (at most {MAX_NAME} characters)")
    bindings = parse_bindings(form.get("bindings"))
    if bindings is None:
        problems.append(f"bindings (at most {MAX_BINDINGS} of OWNER_TYPE_ID and OWNER_ID, positive integers)")
    if problems:
        raise Invalid("missing or invalid: " + ", ".join(problems))
    code = form.get("code")
    expected_code = get_settings().sender_code
    if code is not None and code != expected_code and not (isinstance(code, str) and code in codes):
        # Named only when it looks like a sender CODE: the refusal is logged, and ``code`` could be
        # anything (a phone number, a message, a forged log line).
        shown = repr(code) if isinstance(code, str) and SENDER_CODE.fullmatch(code) else "(not a sender code)"
        raise Invalid(f"unknown sender code {shown}; this provider is {expected_code!r}")
    assert isinstance(message_id, str) and isinstance(to, str) and isinstance(body, str)
    return OutgoingSms(
        message_id,
        to.strip(),
        body,
        code if isinstance(code, str) and code in codes else expected_code,
        module_id,
        bindings or (),
    )


def parse_bindings(raw: Any) -> tuple[tuple[int, int], ...] | None:
    """The HANDLER call's ``bindings[i][OWNER_TYPE_ID]``/``[OWNER_ID]`` (the CRM items the SMS was sent
    from), each once; None when they are not that or more than ``MAX_BINDINGS``. Absent: none."""
    if raw is None or raw == "":
        return ()
    entries = list(raw.values()) if isinstance(raw, dict) else raw
    if not isinstance(entries, list) or len(entries) > MAX_BINDINGS:
        return None
    found: list[tuple[int, int]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            return None
        type_id, owner_id = entry.get("OWNER_TYPE_ID"), entry.get("OWNER_ID")
        if not all(isinstance(v, str) and BINDING_ID.fullmatch(v) for v in (type_id, owner_id)):
            return None
        found.append((int(str(type_id)), int(str(owner_id))))
    return tuple(dict.fromkeys(found))


def accept(portal: Portal, sms: OutgoingSms) -> AcceptResult:
    """Record the message once and queue it. A second call with the same message_id records and
    queues nothing. (Should the queue call fail after the record, usecases/recovery.py queues it later.)"""
    settings = get_settings()
    now = store.now()
    message = Message(
        member_id=portal.member_id,
        message_id=sms.message_id,
        to=sms.to,
        body=sms.body,
        code=sms.code,
        bindings=[[t, i] for t, i in sms.bindings],
        created_at=now,
        updated_at=now,
        expires_at=now + settings.message_ttl_days * 86400,
    )
    if not store.messages.create_message(message):
        logger.info("duplicate message ignored", extra={"message_id": sms.message_id, "to": mask_phone(sms.to)})
        return AcceptResult(sms.message_id, duplicate=True)
    queues.enqueue_dispatch(portal.member_id, sms.message_id)
    logger.info(
        "message accepted",
        extra={"message_id": sms.message_id, "to": mask_phone(sms.to), "module_id": sms.module_id, "chars": len(sms.body)},
    )
    return AcceptResult(sms.message_id, duplicate=False)
