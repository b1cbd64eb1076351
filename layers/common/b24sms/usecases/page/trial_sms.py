"""The page's test SMS: sent through the same path as the portal's (``accept``), and its status as the
page polls it. Only an administrator sends one; it is in the log (source "test"), not in the audit log
of settings changes, which a few tests would flood."""

from __future__ import annotations

import secrets
from typing import Any

from b24sms.adapters import store
from b24sms.adapters.config import get_settings
from b24sms.domain import phones
from b24sms.domain.errors import NotFound
from b24sms.usecases import accept
from b24sms.usecases.page.errors import PageError
from b24sms.usecases.page.guard import Admin, admin_action
from b24sms.usecases.page.log import log_row
from b24sms.usecases.page.session import portal_of
from b24sms.usecases.page_session import Session


@admin_action
def send_test(admin: Admin, to: str, code: str, text: str = "") -> str:
    portal = admin.portal
    config = portal.carrier_for(code)
    if not isinstance(to, str) or not to.strip() or len(to) > 32:
        raise PageError("bad_number")
    try:
        phones.to_e164(to, (config.default_country if config else "") or get_settings().default_country)
    except phones.InvalidNumber as exc:
        raise PageError("bad_number") from exc
    codes = set(portal.senders)
    if code and code != get_settings().sender_code and code not in codes:
        raise PageError("no_sender")
    sms = accept.OutgoingSms(
        f"test-{secrets.token_hex(8)}", to.strip(), text or "b24sms: test SMS", code or get_settings().sender_code, "page"
    )
    accept.accept(portal, sms)  # not a settings change: the log lists it (source "test"), the audit log does not
    return sms.message_id


def test_status(session: Session, message_id: str) -> dict[str, Any]:
    if not isinstance(message_id, str) or not message_id.startswith("test-") or len(message_id) > 64:
        raise NotFound("no such test message")
    message = store.messages.get_message(portal_of(session).member_id, message_id)
    if message is None:
        raise NotFound("no such test message")
    row = log_row(message)
    return {
        "status": message.status,
        "final": message.status in ("delivered", "undelivered", "failed"),
        "timeline": row.timeline,
        "error_code": message.error_code,
        "error_key": row.error_key,
    }
