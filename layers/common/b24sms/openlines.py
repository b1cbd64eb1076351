"""Two-way SMS through Open Lines: our SMS channel as an Open Lines connector.

- install: ``imconnector.register`` and the three connector events bound (again at every install);
- the connector settings placement activates the channel on a line (with the admin's own token);
- an inbound SMS becomes a message in the chat of its phone number (one chat per number per line),
  ``imconnector.send.messages``; a long Vonage SMS arriving in parts is posted at its first part and
  updated (``imconnector.update.messages``) as the others arrive, ending with the whole text in order;
- an operator's reply (``OnImConnectorMessageAdd``) becomes an SMS through the portal's carrier, and
  ``imconnector.send.status.delivery`` tells the operator once the carrier reports it delivered;
- STOP opts a number out of this portal's SMS (and the carrier's own opt-out errors do too), START
  opts it back in.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools import Logger

from b24sms import conversations, phones, queues, storage
from b24sms.bitrix import BitrixError
from b24sms.carriers import InboundSms
from b24sms.config import get_settings
from b24sms.formdata import FormError, decode_json_object
from b24sms.http import BadRequest, Forbidden, NotFound
from b24sms.models import Message, Portal
from b24sms.privacy import mask_phone

logger = Logger(child=True)

EVENTS = ("ONIMCONNECTORMESSAGEADD", "ONIMCONNECTORLINEDELETE", "ONIMCONNECTORSTATUSDELETE")
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "СТОП"})
START_WORDS = frozenset({"START", "UNSTOP", "YES", "СТАРТ"})
OPT_OUT_CODES = frozenset({"TWILIO_21610", "AWS_ConflictException_DESTINATION_PHONE_NUMBER_OPTED_OUT"})
OPENLINES_CODE = "openlines"  # Message.code of an operator's reply (not a messageservice message)
ICON = (
    "data:image/svg+xml;charset=US-ASCII,"
    "%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22%20viewBox%3D%220%200%2070%2071%22%3E"
    "%3Cpath%20fill%3D%22%23FFF%22%20d%3D%22M13%2016h44a4%204%200%200%201%204%204v26a4%204%200%200%201-4%204H30l-11%209v-9h-6a4"
    "%204%200%200%201-4-4V20a4%204%200%200%201%204-4z%22%2F%3E%3C%2Fsvg%3E"
)


def connector_id() -> str:
    """Our connector's ID: a-z, 0-9 and _ only (Bitrix24 refuses dots)."""
    return re.sub(r"[^a-z0-9_]", "_", get_settings().sender_code.lower()) + "_sms"


def placement_url() -> str:
    return f"{get_settings().public_base_url}/bitrix/connector"


def has_scope(portal: Portal) -> bool:
    granted = {s.strip() for s in portal.scope.replace(" ", ",").split(",")}
    return "imconnector" in granted and "imopenlines" in granted


def chat_id(phone: str) -> str:
    """One chat per customer phone number (per line): the number's digits."""
    return phone.lstrip("+")


def phone_of(chat: str) -> str:
    digits = re.sub(r"\D", "", chat)
    return f"+{digits}" if digits else ""


# -- install ---------------------------------------------------------------------------------------
def register(client: Any, portal: Portal) -> bool:
    """Register the connector and bind its events; False (and nothing done) without the scopes."""
    from b24sms.senders import bind_events

    if not has_scope(portal):
        logger.info("Open Lines not set up: the portal did not grant imconnector/imopenlines", extra={"scope": portal.scope})
        return False
    client.call(
        "imconnector.register",
        {
            "ID": connector_id(),
            "NAME": get_settings().sender_name,
            "ICON": {"DATA_IMAGE": ICON, "COLOR": "#1DB954", "SIZE": "90%", "POSITION": "center"},
            "PLACEMENT_HANDLER": placement_url(),
        },
    )
    bind_events(client, EVENTS)
    return True


# -- the connector settings placement --------------------------------------------------------------
@dataclass(frozen=True)
class Activation:
    line: str
    active: bool


def activate_from_placement(form: dict[str, Any]) -> Activation:
    """The admin connected (or disconnected) our channel to a line: activate it with the admin's own
    token (a forged page gets refused by the portal itself), and remember the line."""
    member_id = str(form.get("member_id") or "")
    token = str(form.get("AUTH_ID") or "")
    raw_options = form.get("PLACEMENT_OPTIONS") or "{}"
    try:
        options = decode_json_object(raw_options if isinstance(raw_options, str) else "")
    except FormError as exc:
        raise BadRequest(f"PLACEMENT_OPTIONS must be a JSON object: {exc}") from exc
    line = str(options.get("LINE") or "")
    if not member_id or not token or not (line.isascii() and line.isdigit() and len(line) <= 10):
        raise BadRequest("a connector placement needs member_id, AUTH_ID and PLACEMENT_OPTIONS[LINE]")
    portal = storage.get_portal(member_id)
    if portal is None or not portal.installed:
        raise Forbidden("unknown portal")
    active = str(options.get("ACTIVE_STATUS", "1")) != "0"
    from b24sms.bitrix.client import BitrixClient

    as_admin = BitrixClient(replace(portal, access_token=token), None, timeout=get_settings().http_timeout)
    connector = connector_id()
    try:
        as_admin.call("imconnector.activate", {"CONNECTOR": connector, "LINE": line, "ACTIVE": 1 if active else 0})
        if active:
            data = {"ID": connector, "URL": placement_url(), "URL_IM": placement_url(), "NAME": get_settings().sender_name}
            as_admin.call("imconnector.connector.data.set", {"CONNECTOR": connector, "LINE": line, "DATA": data})
    except BitrixError as exc:
        if exc.code in ("invalid_token", "expired_token", "NO_AUTH_FOUND", "insufficient_scope", "ACCESS_DENIED"):
            raise Forbidden(f"the portal refused this token: {exc.code}") from exc
        raise
    lines = dict(portal.openlines)
    if active:
        lines[line] = "active"
    else:
        lines.pop(line, None)
    storage.set_openlines(member_id, lines)
    logger.info("Open Line connected" if active else "Open Line disconnected", extra={"line": line})
    return Activation(line, active)


def forget_line(portal: Portal, line: str) -> bool:
    """A line deleted, or our connector removed from it: stop routing there."""
    if line not in portal.openlines:
        return False
    storage.set_openlines(portal.member_id, {k: v for k, v in portal.openlines.items() if k != line})
    logger.info("Open Line forgotten", extra={"line": line})
    return True


# -- inbound SMS -> chat -----------------------------------------------------------------------------
def _route(sender: str) -> Portal:
    """The portal and line a customer's SMS belongs to: the portal that last texted this number, or
    the only portal with a connected line (a single-portal install)."""
    member_id = conversations.recipient_portal(sender)
    portal = storage.get_portal(member_id) if member_id else None
    if portal is None or not portal.installed or not portal.openlines:
        candidates = [p for p in storage.list_installed_portals() if p.openlines]
        portal = candidates[0] if len(candidates) == 1 else None
    if portal is None:
        raise NotFound("no portal has an Open Line for this number")
    return portal


def receive_inbound(carrier: str, sms: InboundSms) -> str:
    """Post an inbound SMS into its Open Lines chat (STOP/START also opt the number out/in). Returns
    posted, updated, or duplicate (a part of a long SMS seen before)."""
    try:
        sender = phones.to_e164(sms.from_number)
    except phones.InvalidNumber as exc:
        raise BadRequest(f"inbound SMS from an impossible number: {exc}") from exc
    portal = _route(sender)
    line = sorted(portal.openlines)[0]
    word = sms.text.strip().upper()
    if word in STOP_WORDS:
        conversations.opt_out(portal.member_id, sender, f"{carrier}:STOP")
    elif word in START_WORDS:
        conversations.opt_in(portal.member_id, sender)

    external_id, text, first = sms.carrier_message_id, sms.text, True
    if sms.concat_total > 1 and sms.concat_ref:
        parts = conversations.add_part(
            portal.member_id, f"{sender}#{sms.concat_ref}", sms.concat_part, sms.concat_total, sms.text
        )
        if parts is None:
            return "duplicate"
        external_id = f"{carrier}-{chat_id(sender)}-{sms.concat_ref}"
        text = "".join(parts[n] for n in sorted(parts))
        first = len(parts) == 1
    from b24sms.portals import client_for

    method = "imconnector.send.messages" if first else "imconnector.update.messages"
    entry = {
        "user": {"id": chat_id(sender), "name": sender, "phone": sender, "skip_phone_validate": "Y"},
        "message": {"id": external_id, "date": int(time.time()), "text": text},
        "chat": {"id": chat_id(sender), "name": f"SMS {sender}"},
    }
    result = client_for(portal).call(method, {"CONNECTOR": connector_id(), "LINE": line, "MESSAGES": [entry]})
    _check_results(method, result)
    logger.info("inbound SMS posted", extra={"from": mask_phone(sender), "line": line, "method": method})
    return "posted" if first else "updated"


def _check_results(method: str, result: Any) -> None:
    rows = ((result or {}).get("DATA") or {}).get("RESULT") or []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("SUCCESS") is False:
            raise BitrixError("IMCONNECTOR_REFUSED", f"{method}: {row.get('ERRORS')}", 502, method)


# -- operator replies -> SMS ---------------------------------------------------------------------------
def operator_replies(portal: Portal, data: dict[str, Any]) -> list[str]:
    """OnImConnectorMessageAdd: each operator message becomes an SMS to its chat's phone number."""
    if str(data.get("CONNECTOR") or "") != connector_id():
        return []
    line = str(data.get("LINE") or "")
    if line not in portal.openlines:
        raise NotFound(f"line {line} is not connected to SMS")
    raw = data.get("MESSAGES") or []
    entries = list(raw.values()) if isinstance(raw, dict) else list(raw)
    outcomes = []
    for entry in entries:
        im = entry.get("im") or {}
        chat = str((entry.get("chat") or {}).get("id") or "")
        text = str((entry.get("message") or {}).get("text") or "").strip()
        phone = phone_of(chat)
        if not im.get("message_id") or not phone or not text:
            outcomes.append("skipped")
            continue
        outcomes.append(_reply(portal, line, chat, str(im.get("chat_id") or ""), str(im["message_id"]), phone, text))
    return outcomes


def _reply(portal: Portal, line: str, chat: str, im_chat: str, im_message: str, phone: str, text: str) -> str:
    now = storage.now()
    message = Message(
        member_id=portal.member_id,
        message_id=f"ol{line}-{im_message}",
        to=phone,
        body=text,
        code=OPENLINES_CODE,
        created_at=now,
        updated_at=now,
        expires_at=now + get_settings().message_ttl_days * 86400,
        openlines={"line": line, "chat_id": chat, "im_chat_id": im_chat, "im_message_id": im_message},
    )
    if not storage.create_message(message):
        return "duplicate"
    queues.enqueue_dispatch(portal.member_id, message.message_id)
    logger.info("operator reply queued as SMS", extra={"to": mask_phone(phone), "line": line})
    return "queued"


def delivery_params(message: Message) -> dict[str, Any]:
    """imconnector.send.status.delivery for an operator's reply the carrier delivered."""
    ol = message.openlines
    return {
        "CONNECTOR": connector_id(),
        "LINE": ol.get("line", ""),
        "MESSAGES": [
            {
                "im": {"chat_id": ol.get("im_chat_id", ""), "message_id": ol.get("im_message_id", "")},
                "message": {"id": [message.message_id]},
                "chat": {"id": ol.get("chat_id", "")},
            }
        ],
    }
