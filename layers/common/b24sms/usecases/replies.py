"""An operator's Open Lines reply (``OnImConnectorMessageAdd``) as an SMS, and what became of it told
back in the chat: ``imconnector.send.status.delivery`` once the carrier delivered it, a message in the
chat saying why when it failed."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import queues, store
from b24sms.adapters.config import get_settings
from b24sms.domain import bitrix_statuses
from b24sms.domain.errors import NotFound
from b24sms.domain.models import Message, Portal
from b24sms.domain.openlines import phone_of, plain_text
from b24sms.domain.privacy import mask_phone
from b24sms.usecases import connector

logger = Logger(child=True)


OPENLINES_CODE = "openlines"  # Message.code of an operator's reply (not a messageservice message)


def operator_replies(portal: Portal, data: dict[str, Any]) -> list[str]:
    """OnImConnectorMessageAdd: each operator message becomes an SMS to its chat's phone number."""
    if str(data.get("CONNECTOR") or "") != connector.connector_id():
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
    now = store.now()
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
    if not store.messages.create_message(message):
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
    if message.status == bitrix_statuses.DELIVERED:
        result = client.call("imconnector.send.status.delivery", delivery_params(message))
        connector.check_results("imconnector.send.status.delivery", result, 422)  # refused: dropped, not retried
        return "delivered"
    if message.status in (bitrix_statuses.FAILED, bitrix_statuses.UNDELIVERED):
        result = client.call("imconnector.send.messages", failure_params(message))
        connector.check_results("imconnector.send.messages", result, 422)
        logger.info("operator told the reply was not delivered", extra={"message_id": message.message_id})
        return "notified"
    return "nothing"


def failure_params(message: Message) -> dict[str, Any]:
    """A message into the reply's chat, from our SMS channel, saying why the reply did not go out. Its
    external id is the reply's, so a second push of the same failure is the same message."""
    ol = message.openlines
    chat = ol.get("chat_id", "")
    phone = phone_of(chat)
    status = "was not sent" if message.status == bitrix_statuses.FAILED else "was not delivered"
    reason = message.error_message or "the carrier gave no reason"
    code = f" [{message.error_code}]" if message.error_code else ""
    text = f"[b]SMS channel:[/b] the operator's reply {status} to {phone}: {reason}{code}"
    return {
        "CONNECTOR": connector.connector_id(),
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
        "CONNECTOR": connector.connector_id(),
        "LINE": ol.get("line", ""),
        "MESSAGES": [
            {
                "im": {"chat_id": ol.get("im_chat_id", ""), "message_id": ol.get("im_message_id", "")},
                "message": {"id": [message.message_id]},
                "chat": {"id": ol.get("chat_id", "")},
            }
        ],
    }
