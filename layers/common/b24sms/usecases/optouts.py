"""A number opting out of a portal's SMS and back in, whoever tells us: a STOP/START reply (with or
without an Open Line), a carrier's opt-out refusal (Twilio 21610), the page's administrator. The opt-out
itself is one conditional write, so an event seen twice (STOP sent twice, a carrier's retry) changes
nothing the second time; a change is written on the CRM timeline of the items with that number
(``timeline.opted``: a portal job), once per event."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from b24sms.adapters import store
from b24sms.domain.models import Portal
from b24sms.domain.privacy import mask_phone
from b24sms.usecases import timeline

logger = Logger(child=True)


def opt_out(portal: Portal, phone: str, source: str, replied_to: str = "") -> bool:
    """Opt ``phone`` (E.164) out of ``portal``'s SMS; False when it already was."""
    if not store.chats.opt_out(portal.member_id, phone, source):
        return False
    logger.info("number opted out", extra={"member_id": portal.member_id, "phone": mask_phone(phone), "source": source})
    timeline.opted(portal, phone, True, source, replied_to)
    return True


def opt_in(portal: Portal, phone: str, source: str, replied_to: str = "") -> bool:
    """Opt ``phone`` back in; False when it was not opted out."""
    if not store.chats.opt_in(portal.member_id, phone):
        return False
    logger.info("number opted in", extra={"member_id": portal.member_id, "phone": mask_phone(phone), "source": source})
    timeline.opted(portal, phone, False, source, replied_to)
    return True
