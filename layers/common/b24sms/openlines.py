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

import html
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools import Logger

from b24sms import conversations, phones, queues, statuses, storage, telemetry
from b24sms.bitrix import BitrixError
from b24sms.carriers import InboundSms
from b24sms.config import get_settings
from b24sms.formdata import FormError, decode_json_object
from b24sms.http import BadRequest, Forbidden, NotFound, Unavailable
from b24sms.models import Message, Portal
from b24sms.privacy import mask_phone

logger = Logger(child=True)

EVENTS = ("ONIMCONNECTORMESSAGEADD", "ONIMCONNECTORLINEDELETE", "ONIMCONNECTORSTATUSDELETE")
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "СТОП"})
START_WORDS = frozenset({"START", "UNSTOP", "YES", "СТАРТ"})
OPT_OUT_CODES = frozenset({"TWILIO_21610", "AWS_ConflictException_DESTINATION_PHONE_NUMBER_OPTED_OUT"})
# The deployment's default sender of each carrier (the environment the carriers read it from).
DEFAULT_SENDERS = {"twilio": "TWILIO_FROM", "vonage": "VONAGE_FROM", "aws": "AWS_SMS_ORIGINATION_IDENTITY"}
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
    if active:
        remember_route(portal)  # the first SMS a customer sends to our number finds this portal
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
def our_number(portal: Portal) -> str:
    """The number this portal sends from, E.164 (its own sender, else the deployment's default sender
    for its carrier); "" when it sends from no number (an alphanumeric sender id, a messaging service)."""
    config = portal.carrier
    carrier = config.carrier if config else get_settings().carrier
    sender = (config.sender if config else "") or os.environ.get(DEFAULT_SENDERS.get(carrier, ""), "")
    return as_number(sender)


def as_number(raw: str) -> str:
    """A number of ours as a carrier writes it (``+15005550006``, ``15005550006``), E.164; "" if it is none."""
    text = (raw or "").strip()
    if text.isdigit():
        text = "+" + text
    if not text.startswith("+"):
        return ""
    try:
        return phones.to_e164(text)
    except phones.InvalidNumber:
        return ""


def remember_route(portal: Portal) -> str:
    """Keep "this number of ours -> this portal" (PortalsTable is never scanned to route an SMS)."""
    number = our_number(portal)
    conversations.remember_route(number, portal.member_id)
    return number


def _usable(portal: Portal | None) -> bool:
    return portal is not None and portal.installed and bool(portal.openlines)


def _route(sender: str, to_number: str) -> Portal | None:
    """The portal an inbound SMS belongs to: the portal that last texted this customer, else the only
    portal with a connected line that sends from the number the SMS was sent to; None if none."""
    member_id = conversations.recipient_portal(sender)
    portal = storage.get_portal(member_id) if member_id else None
    if _usable(portal):
        return portal
    number = as_number(to_number)
    candidates = [p for m in conversations.route_portals(number) if _usable(p := storage.get_portal(m))]
    # A stale route (the portal moved to another number since) is not followed.
    candidates = [p for p in candidates if p is not None and our_number(p) == number]
    return candidates[0] if len(candidates) == 1 else None


def _unrouted(carrier: str, sender: str, sms: InboundSms) -> str:
    """Nowhere to post it (no line, no portal for the number): the carrier gets 2xx all the same, or
    it would retry for up to a day. We keep a log line and a metric."""
    logger.warning(
        "inbound SMS not routed: no portal has an Open Line for it",
        extra={"carrier": carrier, "from": mask_phone(sender), "to": mask_phone(sms.to_number)},
    )
    telemetry.count("InboundUnrouted")
    return "unrouted"


def receive_inbound(carrier: str, sms: InboundSms) -> str:
    """Post an inbound SMS into its Open Lines chat (STOP/START also opt the number out/in). Returns
    posted, updated (a later part of a long SMS), pending (a part another call is posting with the
    rest), duplicate (the carrier sent it before) or unrouted (no portal takes it)."""
    try:
        sender = phones.to_e164(sms.from_number)
    except phones.InvalidNumber as exc:
        raise BadRequest(f"inbound SMS from an impossible number: {exc}") from exc
    portal = _route(sender, sms.to_number)
    if portal is None:
        return _unrouted(carrier, sender, sms)
    line = sorted(portal.openlines)[0]
    member = portal.member_id
    if sms.concat_total > 1 and sms.concat_ref:
        key, external_id = f"{carrier}#{sender}#{sms.concat_ref}", f"{carrier}-{chat_id(sender)}-{sms.concat_ref}"
        stored = conversations.add_part(member, key, sms.concat_part, sms.concat_total, sms.text)
    else:
        key, external_id = f"{carrier}#{sms.carrier_message_id}", sms.carrier_message_id
        stored = conversations.add_part(member, key, 1, 1, sms.text)
    if stored.new:  # a retry of STOP after a START must not opt the number out again
        word = sms.text.strip().upper()
        if word in STOP_WORDS:
            conversations.opt_out(member, sender, f"{carrier}:STOP")
        elif word in START_WORDS:
            conversations.opt_in(member, sender)

    post = _poster(portal, line, sender, external_id)
    if stored.posted:
        if not stored.new and stored.shown >= len(stored.parts):
            return "duplicate"
        post("imconnector.update.messages", stored.text())
        conversations.mark_shown(member, key, len(stored.parts))
        return "updated"
    if not conversations.claim_posting(member, key):
        if stored.new:
            return "pending"  # another call is posting this SMS: it takes this part along (mark_posted)
        raise Unavailable("this SMS is being posted right now: try again", "in_progress")
    try:
        post("imconnector.send.messages", stored.text())
    except Exception:
        conversations.release_posting(member, key)
        raise
    after = conversations.mark_posted(member, key, len(stored.parts))
    if len(after.parts) > len(stored.parts):  # parts that came while we were posting
        post("imconnector.update.messages", after.text())
        conversations.mark_shown(member, key, len(after.parts))
    return "posted"


def _poster(portal: Portal, line: str, sender: str, external_id: str) -> Callable[[str, str], None]:
    from b24sms.portals import client_for

    client = client_for(portal)

    def post(method: str, text: str) -> None:
        entry = {
            "user": {"id": chat_id(sender), "name": sender, "phone": sender, "skip_phone_validate": "Y"},
            "message": {"id": external_id, "date": int(time.time()), "text": text},
            "chat": {"id": chat_id(sender), "name": f"SMS {sender}"},
        }
        result = client.call(method, {"CONNECTOR": connector_id(), "LINE": line, "MESSAGES": [entry]})
        _check_results(method, result)
        logger.info("inbound SMS posted", extra={"from": mask_phone(sender), "line": line, "method": method})

    return post


def _check_results(method: str, result: Any, http_status: int = 502) -> None:
    """A message the portal refused (``SUCCESS: false`` in its row) raises; ``http_status`` below 500
    makes that a permanent error (not retried)."""
    rows = ((result or {}).get("DATA") or {}).get("RESULT") or []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and row.get("SUCCESS") is False:
            raise BitrixError("IMCONNECTOR_REFUSED", f"{method}: {row.get('ERRORS')}", http_status, method)


# -- operator replies -> SMS ---------------------------------------------------------------------------
_URL = re.compile(r"\[url=([^\]]*)\](.*?)\[/url\]", re.IGNORECASE | re.DOTALL)
_QUOTE = re.compile(r"\[quote[^\]]*\](.*?)\[/quote\]\s*", re.IGNORECASE | re.DOTALL)
_EMPTY_TAGS = re.compile(r"\[(?:icon|attach|timestamp|context)(?:=[^\]]*)?\]", re.IGNORECASE)
_BR = re.compile(r"\[br\]", re.IGNORECASE)
# Tags whose content is kept as it is, the tags themselves dropped ([user=12]Anna[/user] -> Anna).
_TAGS = re.compile(
    r"\[/?(?:b|i|u|s|del|size|color|font|left|right|center|justify|code|img|url|user|chat|send|put|call|"
    r"pch|dialog|context|list|\*)(?:=[^\]]*)?\]",
    re.IGNORECASE,
)


def plain_text(text: str) -> str:
    """An operator's Open Lines message (BB-codes) as SMS text: ``[b]Anna:[/b][br]Hi`` -> ``Anna:\nHi``,
    ``[url=https://x.io]our site[/url]`` -> ``our site (https://x.io)``, a quote as ``> `` lines,
    ``[user=12]Anna[/user]`` -> ``Anna``. Brackets that are not BB-codes stay as they are."""
    out = _BR.sub("\n", text.replace("\r\n", "\n"))
    out = _EMPTY_TAGS.sub("", out)

    def url(match: re.Match[str]) -> str:
        target, label = match.group(1).strip().strip("\"'"), match.group(2).strip()
        return target if not label or label == target else f"{label} ({target})"

    out = _URL.sub(url, out)

    def quote(match: re.Match[str]) -> str:
        lines = [ln for ln in match.group(1).strip().split("\n") if ln.strip() and not set(ln.strip()) <= {"-"}]
        return "".join(f"> {ln.strip()}\n" for ln in lines)

    out = _QUOTE.sub(quote, out)
    out = _TAGS.sub("", out)
    out = html.unescape(out)
    out = re.sub(r"[ \t]{2,}", " ", out)
    out = re.sub(r"[ \t]+\n", "\n", out)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


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
        text = plain_text(str((entry.get("message") or {}).get("text") or ""))
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


def push_reply_status(client: Any, message: Message) -> str:
    """Tell the operator's chat what became of their reply: ``imconnector.send.status.delivery`` once
    the carrier delivered it; a failed or undelivered reply (opted out, refused by the carrier) gets a
    message in the same chat saying why (imconnector has no "failed" status, and a system message
    needs the ``im`` scope, which the app does not ask for). Returns what was done: delivered,
    notified or nothing. Raises BitrixError (not transient when the portal refused the message)."""
    if message.status == statuses.DELIVERED:
        result = client.call("imconnector.send.status.delivery", delivery_params(message))
        _check_results("imconnector.send.status.delivery", result, 422)  # refused: dropped, not retried
        return "delivered"
    if message.status in (statuses.FAILED, statuses.UNDELIVERED):
        result = client.call("imconnector.send.messages", failure_params(message))
        _check_results("imconnector.send.messages", result, 422)
        logger.info("operator told the reply was not delivered", extra={"message_id": message.message_id})
        return "notified"
    return "nothing"


def failure_params(message: Message) -> dict[str, Any]:
    """A message into the reply's chat, from our SMS channel, saying why the reply did not go out. Its
    external id is the reply's, so a second push of the same failure is the same message."""
    ol = message.openlines
    chat = ol.get("chat_id", "")
    phone = phone_of(chat)
    status = "was not sent" if message.status == statuses.FAILED else "was not delivered"
    reason = message.error_message or "the carrier gave no reason"
    code = f" [{message.error_code}]" if message.error_code else ""
    text = f"[b]SMS channel:[/b] the operator's reply {status} to {phone}: {reason}{code}"
    return {
        "CONNECTOR": connector_id(),
        "LINE": ol.get("line", ""),
        "MESSAGES": [
            {
                "user": {"id": chat, "name": phone, "phone": phone, "skip_phone_validate": "Y"},
                "message": {"id": f"{message.message_id}-{message.status}", "date": int(time.time()), "text": text},
                "chat": {"id": chat},
            }
        ],
    }


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
