"""Which portal a number of ours belongs to: "this number -> this portal" routes (``route#`` items
in ChatsTable), kept whenever a portal's number may have changed (a line connected, a portal given its
own carrier), so an inbound SMS finds its portal without scanning PortalsTable."""

from __future__ import annotations

from b24sms.adapters import carriers, store
from b24sms.domain import phones
from b24sms.domain.models import Portal


def our_number(portal: Portal) -> str:
    """The number this portal sends from, E.164 (its own sender, else the deployment's default sender
    for its carrier); "" when it sends from no number (an alphanumeric sender id, a messaging service)."""
    config = portal.carrier
    carrier = config.carrier if config else carriers.default_name()
    sender = (config.sender if config else "") or carriers.default_sender(carrier)
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
    store.chats.remember_route(number, portal.member_id)
    return number
