"""The page's opt-out list: numbers that will get no SMS from this portal (STOP, a carrier's refusal,
or added here), shown masked with an opaque reference (the page never holds a number), added and
removed by an administrator."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from b24sms.adapters import store
from b24sms.adapters.config import get_settings
from b24sms.domain import phones
from b24sms.domain.errors import NotFound
from b24sms.domain.privacy import mask_phone
from b24sms.usecases import optouts, page_session
from b24sms.usecases.page.errors import PageError
from b24sms.usecases.page.guard import Admin, admin_action
from b24sms.usecases.page_session import Session


def opt_outs_view(session: Session, member_id: str) -> list[dict[str, Any]]:
    return [
        {"phone": mask_phone(o["phone"]), "ref": opt_out_ref(session, o["phone"]), "at": o["at"], "source": o["source"]}
        for o in store.chats.opt_outs(member_id)
    ]


def opt_out_ref(session: Session, phone: str) -> str:
    """An opaque handle of an opted-out number for this session's portal (the page never holds the number)."""
    key = page_session._key()
    return hmac.new(key, f"{session.member_id}:{phone}".encode(), hashlib.sha256).hexdigest()[:24]


@admin_action
def add_opt_out(admin: Admin, phone: Any) -> None:
    portal = admin.portal
    if not isinstance(phone, str) or len(phone) > 32:
        raise PageError("bad_number")
    config = portal.carrier
    try:
        number = phones.to_e164(phone, (config.default_country if config else "") or get_settings().default_country)
    except phones.InvalidNumber as exc:
        raise PageError("bad_number") from exc
    optouts.opt_out(portal, number, "page")  # and on the CRM timeline
    admin.audit("opt-out added", {"phone": mask_phone(number)})


@admin_action
def remove_opt_out(admin: Admin, ref: Any) -> None:
    portal = admin.portal
    for entry in store.chats.opt_outs(portal.member_id):
        if isinstance(ref, str) and hmac.compare_digest(opt_out_ref(admin.session, entry["phone"]), ref):
            optouts.opt_in(portal, entry["phone"], "page")  # and on the CRM timeline
            admin.audit("opt-out removed", {"phone": mask_phone(entry["phone"])})
            return
    raise NotFound("no such opt-out")
