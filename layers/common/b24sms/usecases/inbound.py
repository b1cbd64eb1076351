"""An inbound SMS (a customer's SMS to our number) into the customer's Open Lines chat.

- trust: the webhook is verified, before anything is written, with the credentials of the account
  that owns the number it was sent to: a portal's own carrier account (that portal alone then takes
  the SMS) or else the deployment's; a number a portal's own account owns is never verified with
  another account's credentials;
- routing: the portal that last texted this customer, else the only portal with a connected line that
  sends from the number the SMS was sent to (``route#`` items: PortalsTable is never scanned);
- one chat per number per line, ``imconnector.send.messages``; a long Vonage SMS arriving in parts is
  posted at its first part and updated (``imconnector.update.messages``) as the others arrive, ending
  with the whole text in order; each part is kept once (a carrier's retry changes nothing);
- STOP opts the number out of the portal it replied to, START opts it back in, with or without an
  Open Line (``optouts``: the CRM timeline is told too).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aws_lambda_powertools import Logger

from b24sms.adapters import carriers, store, telemetry
from b24sms.adapters.bitrix.tokens import client_for
from b24sms.adapters.carriers import CallbackRequest, InboundSms, SignatureError, UnknownCarrier, get_carrier
from b24sms.domain import phones
from b24sms.domain.errors import Invalid, TryLater
from b24sms.domain.models import CarrierConfig, Portal
from b24sms.domain.openlines import START_WORDS, STOP_WORDS, chat_id
from b24sms.domain.privacy import mask_phone
from b24sms.usecases import connector, optouts
from b24sms.usecases.number_routes import as_number, our_number

logger = Logger(child=True)


def _usable(portal: Portal | None) -> bool:
    return portal is not None and portal.installed and bool(portal.openlines)


def _route(sender: str, to_number: str) -> Portal | None:
    """The portal an inbound SMS belongs to: the portal that last texted this customer, else the only
    portal with a connected line that sends from the number the SMS was sent to; None if none."""
    member_id = store.chats.recipient_portal(sender)
    portal = store.portals.get_portal(member_id) if member_id else None
    if _usable(portal):
        return portal
    number = as_number(to_number)
    candidates = [p for m in store.chats.route_portals(number) if _usable(p := store.portals.get_portal(m))]
    # A stale route (the portal moved to another number since) is not followed.
    candidates = [p for p in candidates if p is not None and our_number(p) == number]
    return candidates[0] if len(candidates) == 1 else None


def verified(carrier_name: str, request: CallbackRequest) -> tuple[InboundSms, Portal | None]:
    """An inbound SMS webhook, verified (else SignatureError, ValueError, UnknownCarrier), and the portal
    whose own account verified it (None: the deployment's did). The number it says it was sent to
    (unverified) only chooses whose credentials verify it: the portals whose own account sends from
    that number, else the deployment. Nothing is written."""
    if not carriers.spec(carrier_name).two_way:  # UnknownCarrier before anything of the request is read
        raise UnknownCarrier(f"{carrier_name} delivers no inbound SMS")
    number = as_number(carriers.inbound_to(carrier_name, request))
    owners = _own_accounts(carrier_name, number)
    for portal, config in owners:
        try:
            return get_carrier(carrier_name, config).parse_inbound(request), portal
        except (SignatureError, UnknownCarrier):  # not this account's (or its secret is gone)
            continue
    if owners and number != _deployment_number(carrier_name):
        raise SignatureError(f"not signed by the {carrier_name} account that owns this number")
    return get_carrier(carrier_name).parse_inbound(request), None


def _own_accounts(carrier: str, number: str) -> list[tuple[Portal, CarrierConfig]]:
    """The installed portals whose own account of ``carrier`` sends from ``number``, with that config."""
    found: list[tuple[Portal, CarrierConfig]] = []
    for member_id in store.chats.route_portals(number) if number else []:
        portal = store.portals.get_portal(member_id)
        if portal is None or not portal.installed:
            continue
        configs = [portal.carrier, *(portal.carrier_for(code) for code in sorted(portal.senders))]
        own = [c for c in configs if c and c.carrier == carrier and c.credentials and as_number(c.sender) == number]
        if own:
            found.append((portal, own[0]))
    return found


def _replied_portal(sender: str, to_number: str) -> Portal | None:
    """The installed portal a reply (STOP/START) answers, Open Lines or not: the portal that last texted
    this customer, unless the number the reply was sent to is another portal's; else the only portal
    that sends from that number."""
    number = as_number(to_number)
    routed = [p for m in store.chats.route_portals(number) if (p := store.portals.get_portal(m)) and p.installed]
    routed = [p for p in routed if our_number(p) == number]
    member_id = store.chats.recipient_portal(sender)
    last = store.portals.get_portal(member_id) if member_id else None
    if last is not None and last.installed and (not routed or last.member_id in {p.member_id for p in routed}):
        return last
    return routed[0] if len(routed) == 1 else None


def _opt(portal: Portal, carrier: str, sender: str, word: str, to_number: str) -> str:
    """STOP opts ``sender`` out of ``portal``'s SMS, START back in; any other text changes nothing."""
    if word in STOP_WORDS:
        optouts.opt_out(portal, sender, f"{carrier}:STOP", replied_to=to_number)
        return "opted_out"
    if word in START_WORDS:
        optouts.opt_in(portal, sender, f"{carrier}:START", replied_to=to_number)
        return "opted_in"
    return ""


def _deployment_number(carrier: str) -> str:
    return as_number(carriers.default_sender(carrier))


def _unrouted(carrier: str, sender: str, sms: InboundSms) -> str:
    """Nowhere to post it (no line, no portal for the number): the carrier gets 2xx all the same, or
    it would retry for up to a day. We keep a log line and a metric."""
    logger.warning(
        "inbound SMS not routed: no portal has an Open Line for it",
        extra={"carrier": carrier, "from": mask_phone(sender), "to": mask_phone(sms.to_number)},
    )
    telemetry.count("InboundUnrouted")
    return "unrouted"


def receive_inbound(carrier: str, sms: InboundSms, owner: Portal | None = None) -> str:
    """Post an inbound SMS into its Open Lines chat (STOP/START also opt the number out/in): the
    ``owner``'s when its own account verified it, else the routed portal's. Returns posted, updated
    (a later part of a long SMS), pending (a part another call is posting with the rest), duplicate
    (the carrier sent it before), opted_out/opted_in (STOP/START to a portal with no line) or unrouted
    (no portal takes it)."""
    try:
        sender = phones.to_e164(sms.from_number)
    except phones.InvalidNumber as exc:
        raise Invalid(f"inbound SMS from an impossible number: {exc}") from exc
    # verified by the owner's own account: the owner's alone, never another portal's
    portal = _route(sender, sms.to_number) if owner is None else owner if _usable(owner) else None
    word = sms.text.strip().upper() if sms.concat_total <= 1 else ""
    if portal is None:
        # STOP/START need no Open Line: the number and the portal it replied to are enough.
        replied_to = _replied_portal(sender, sms.to_number) if owner is None else owner if owner.installed else None
        if replied_to is None or word not in STOP_WORDS | START_WORDS:
            return _unrouted(carrier, sender, sms)
        key = f"{carrier}#{sms.carrier_message_id}"
        if not store.chats.add_part(replied_to.member_id, key, 1, 1, sms.text).new:
            return "duplicate"
        return _opt(replied_to, carrier, sender, word, sms.to_number)
    line = sorted(portal.openlines)[0]
    member = portal.member_id
    if sms.concat_total > 1 and sms.concat_ref:
        key, external_id = f"{carrier}#{sender}#{sms.concat_ref}", f"{carrier}-{chat_id(sender)}-{sms.concat_ref}"
        stored = store.chats.add_part(member, key, sms.concat_part, sms.concat_total, sms.text)
    else:
        key, external_id = f"{carrier}#{sms.carrier_message_id}", sms.carrier_message_id
        stored = store.chats.add_part(member, key, 1, 1, sms.text)
    if stored.new:  # a retry of STOP after a START must not opt the number out again
        _opt(portal, carrier, sender, word, sms.to_number)

    post = _poster(portal, line, sender, external_id)
    if stored.posted:
        if not stored.new and stored.shown >= len(stored.parts):
            return "duplicate"
        post("imconnector.update.messages", stored.text())
        store.chats.mark_shown(member, key, len(stored.parts))
        return "updated"
    if not store.chats.claim_posting(member, key):
        if stored.new:
            return "pending"  # another call is posting this SMS: it takes this part along (mark_posted)
        raise TryLater("this SMS is being posted right now: try again", "in_progress")
    try:
        post("imconnector.send.messages", stored.text())
    except Exception:
        store.chats.release_posting(member, key)
        raise
    after = store.chats.mark_posted(member, key, len(stored.parts))
    if len(after.parts) > len(stored.parts):  # parts that came while we were posting
        post("imconnector.update.messages", after.text())
        store.chats.mark_shown(member, key, len(after.parts))
    return "posted"


def _poster(portal: Portal, line: str, sender: str, external_id: str) -> Callable[[str, str], None]:
    client = client_for(portal)

    def post(method: str, text: str) -> None:
        entry = {
            "user": {"id": chat_id(sender), "name": sender, "phone": sender, "skip_phone_validate": "Y"},
            "message": {"id": external_id, "date": int(time.time()), "text": text},
            "chat": {"id": chat_id(sender), "name": f"SMS {sender}"},
        }
        result = client.call(method, {"CONNECTOR": connector.connector_id(), "LINE": line, "MESSAGES": [entry]})
        connector.check_results(method, result)
        logger.info("inbound SMS posted", extra={"from": mask_phone(sender), "line": line, "method": method})

    return post
