"""Quiet hours: a message handed over while its recipient's night lasts waits, and goes when it ends.

Dispatch asks ``hold_if_quiet`` before it claims a message. When the portal has quiet hours, the sender
is not exempt and it is quiet in the recipient's zone (domain/quiet.py), the message stays ``accepted``
and is marked held until the window opens (store/quiet.py: sparse index ``by-quiet``), and the portal
gets ONE wake-up for that opening: an EventBridge Scheduler one-time schedule named by (portal, time),
so a thousand messages held for 08:00 share it (``adapters/schedules.wake_once``: a second ask is a
``ConflictException``, and a warm Lambda remembers what it asked for). No polling: nothing runs for a
held message until its window opens.

At the opening the schedule sends ``{"member_id", "quiet_wake"}`` to the outbound queue; the dispatch
function hands it to ``wake``, which Queries the portal's held messages that are due (a page of
``RELEASE_PAGE``, then a continuation message for the rest), queues each to be sent and takes it out
of the index. Queued twice (the wake-up fired twice, or a release died between the two steps), a
message is still sent once: dispatch claims it with a conditional write. Lost (the schedule never ran),
it is still found: holding moved its ``pending_since`` to the opening, so the recovery sweep queues it
soon after. Everything lives in DynamoDB and Scheduler, so a redeploy loses nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import queues, schedules, store
from b24sms.adapters.config import get_settings
from b24sms.domain import phones
from b24sms.domain import quiet as rules
from b24sms.domain.models import Message, Portal
from b24sms.domain.privacy import mask_phone

logger = Logger(child=True)

WAKE_KEY = "quiet_wake"
RELEASE_PAGE = 200  # held messages queued per wake-up message (the rest: a continuation message)
_ASKED: set[tuple[str, int]] = set()  # wake-ups this process has made sure of


def hours_of(portal: Portal) -> rules.QuietHours | None:
    try:
        return rules.QuietHours.from_item(portal.quiet_hours)
    except ValueError as exc:
        logger.warning("quiet hours setting ignored", extra={"member_id": portal.member_id, "error": str(exc)})
        return None


def hold_if_quiet(portal: Portal, message: Message, country: str) -> int | None:
    """The unix second the message is held until, or None: send it now."""
    hours = hours_of(portal)
    if hours is None or message.code in hours.exempt or not get_settings().quiet_wake_target_arn:
        return None
    try:
        to = phones.to_e164(message.to, country)
    except phones.InvalidNumber:
        return None  # dispatch refuses it
    wake = rules.quiet_until(hours, rules.recipient_zones(to, hours.zone), store.now())
    if wake is None:
        return None
    ensure_wake(portal.member_id, wake)  # the wake-up first: a held message always has one
    if not store.quiet.hold(message.member_id, message.message_id, wake):
        return None  # no longer waiting (another dispatcher has it): let dispatch see
    logger.info("held for quiet hours", extra={"message_id": message.message_id, "to": mask_phone(message.to), "until": wake})
    return wake


def schedule_name(member_id: str, wake: int) -> str:
    """At most 64 characters of [0-9A-Za-z_.-]: the portal hashed (member ids are free text)."""
    return f"quiet-{hashlib.sha256(member_id.encode()).hexdigest()[:32]}-{wake}"


def ensure_wake(member_id: str, wake: int) -> None:
    if (member_id, wake) in _ASKED:
        return
    created = schedules.wake_once(schedule_name(member_id, wake), wake, {"member_id": member_id, WAKE_KEY: wake})
    if created:
        logger.info("quiet hours wake-up scheduled", extra={"member_id": member_id, "at": wake})
    if len(_ASKED) > 10_000:
        _ASKED.clear()
    _ASKED.add((member_id, wake))


def is_wake(body: str) -> bool:
    return f'"{WAKE_KEY}"' in body


def wake(body: str) -> str:
    """A portal's wake-up (from Scheduler, or a continuation): queue its due held messages."""
    data: Any = json.loads(body)
    member_id, at = str(data["member_id"]), int(data[WAKE_KEY])
    return f"released {release(member_id, at)}"


def release(member_id: str, at: int) -> int:
    settings = get_settings()
    now = store.now()
    if now < at:  # here before the opening (a clock apart): come back then, and hold nothing twice
        queues.send_later(settings.outbound_queue_url, {"member_id": member_id, WAKE_KEY: at}, at - now)
        return 0
    due, more = store.quiet.due(member_id, now, RELEASE_PAGE)
    queues.send_batch(settings.outbound_queue_url, [{"member_id": member_id, "message_id": mid} for mid, _ in due])
    released = sum(store.quiet.unhold(member_id, mid, until) for mid, until in due)
    if more:
        queues.send_batch(settings.outbound_queue_url, [{"member_id": member_id, WAKE_KEY: at}])
    logger.info("quiet hours over: held messages queued", extra={"member_id": member_id, "count": len(due), "more": more})
    return released
