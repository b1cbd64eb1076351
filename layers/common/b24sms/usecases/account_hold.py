"""Carrier account refusals: when a carrier refuses the account itself (credentials, a suspended
account, no balance: each carrier's ``SPEC.account_refusals``), the account is held on the portal's
record instead of every SMS being tried ``DISPATCH_MAX_ATTEMPTS`` times.

While held, the account's messages are never written to the carrier: each waits queued on its own
(a delay on the outbound queue, not a loop over portals; another portal's messages never look at this
hold) and looks again every ``ACCOUNT_RECHECK_SECONDS`` at most, one paced probe every
``ACCOUNT_PROBE_SECONDS`` tries the account with a real message, and a
message waiting longer than ``ACCOUNT_HOLD_MAX`` since it was accepted fails with the refusal's code.
A send that works, or the page's **Check** finding the account working, ends the hold."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger

from b24sms.adapters import config, queues, store
from b24sms.domain import holds
from b24sms.domain.holds import AccountHold
from b24sms.domain.models import Message, Portal
from b24sms.usecases import admin_alerts

logger = Logger(child=True)

SEND = "send"  # no hold: send as usual
PROBE = "probe"  # held, and this message is the probe
WAIT = "wait"  # held: queued again for later
EXPIRE = "expire"  # held past the bound: fail it


class Refused(Exception):
    """The carrier refused the account (not this message): nothing was sent."""

    def __init__(self, code: str, message: str, cause: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.cause = cause


def gate(portal: Portal, key: str, message: Message) -> tuple[str, AccountHold | None]:
    """What ``message``, about to go out through account ``key``, does: ``SEND``, ``PROBE`` (both with
    the hold seen, None when none), ``WAIT`` (the caller gives its claim back, then queues it again: ``wait``) or ``EXPIRE``."""
    raw = portal.account_holds.get(key)
    if not raw:
        return SEND, None
    hold = AccountHold.from_item(raw)
    now = store.now()
    verdict = holds.verdict(hold, message.created_at, now, config.account_hold_max())
    if verdict == holds.EXPIRE:
        return EXPIRE, hold
    if verdict == holds.PROBE:
        if store.holds.take_probe(portal.member_id, key, hold.probe_at, now + config.account_probe_seconds()):
            logger.info("probing a held carrier account", extra={"account": key, "message_id": message.message_id})
            return PROBE, hold
        fresh = store.portals.get_portal(portal.member_id)  # another took the probe: did it end the hold?
        raw = fresh.account_holds.get(key) if fresh else None
        if not raw:
            return SEND, None
        hold = AccountHold.from_item(raw)
    return WAIT, hold


def wait(message: Message, hold: AccountHold, now: int) -> None:
    """Queue ``message`` again until the account's next probe (or its own bound)."""
    delay = holds.wait_seconds(hold, message.created_at, now, config.account_hold_max(), config.account_recheck_seconds())
    queues.enqueue_dispatch(message.member_id, message.message_id, delay_seconds=delay)


def refused(member_id: str, key: str, exc: Refused, probing: bool, forget: Callable[[], object] = lambda: None) -> AccountHold:
    """The account ``key`` refused a send: hold it (unless this was its probe, which moved the next one
    already). The hold as the waiting messages should read it. ``forget`` drops the caller's copy of the
    portal as soon as the hold is written, before the administrators are told (which takes a while):
    a copy read before the hold would send the portal's next SMS through the refusing account."""
    now = store.now()
    held = AccountHold(exc.cause, exc.code, now, now + config.account_probe_seconds())
    newly = not probing and store.holds.hold(member_id, key, held)
    forget()
    if newly:
        logger.warning("carrier account held: its SMS wait", extra={"account": key, "cause": exc.cause, "error": exc.code})
        admin_alerts.raised(member_id, exc.cause, code=exc.code)  # the portal's administrators, once
    return held


def recovered(member_id: str, key: str, hold: AccountHold) -> None:
    """A send through the held account ``key`` worked: the hold ends, its messages go at their next turn."""
    store.holds.release(member_id, [key])
    logger.info("carrier account works again: hold ended", extra={"account": key})
    admin_alerts.cleared(member_id, hold.cause)


def release_carrier(portal: Portal, carrier: str) -> list[str]:
    """The page's **Check** found carrier ``carrier``'s account working: end the portal's holds of it."""
    keys = [key for key in portal.account_holds if key.startswith(f"{carrier}:")]
    causes = sorted({str(portal.account_holds[key].get("cause", "")) for key in keys})
    store.holds.release(portal.member_id, keys)
    if keys:
        logger.info("carrier account checked on the page: hold ended", extra={"accounts": keys})
    for cause in causes:
        admin_alerts.cleared(portal.member_id, cause)
    return keys
