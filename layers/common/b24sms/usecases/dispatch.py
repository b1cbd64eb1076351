"""Where a message is sent: one queued message, claimed by one dispatcher, handed to the carrier.

- the claim is a conditional write, so redelivered or duplicated queue messages never send twice;
- sends are paced by the carrier's shared token bucket (``CARRIER_RATE`` per second, all functions
  together); a carrier answering 429 slows us down without using up the message's attempts;
- a transient carrier error (timeout, 5xx) puts the message back (the queue redelivers it after an
  exponential backoff) until ``DISPATCH_MAX_ATTEMPTS``; then, or on a permanent error, it is ``failed``;
- a claim whose lease ran out means a dispatcher died mid-send, and a send that got no answer from
  the carrier in time may have gone through: either way the carrier may have the SMS, so it is
  NOT sent again (state ``unknown``). A carrier callback still finds it by our key; if none has
  come after ``UNKNOWN_OUTCOME_GRACE`` seconds, the message is ``failed`` with that reason;
- a refusal of the carrier account itself (credentials, suspended, no balance) holds the account:
  its messages wait unsent, one probe at a time tries it (``account_hold``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from b24sms.adapters import carriers, queues, store
from b24sms.adapters.carriers import (
    CarrierOutcomeUnknown,
    CarrierThrottled,
    OutboundSms,
    PermanentCarrierError,
    TransientCarrierError,
    get_carrier,
)
from b24sms.adapters.config import get_settings
from b24sms.adapters.store.limits import TokenBucket
from b24sms.domain import bitrix_statuses, holds, phones, segments
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.errors import Throttled
from b24sms.domain.models import Message, Portal
from b24sms.domain.privacy import mask_carrier_text, mask_phone
from b24sms.usecases import account_hold, failover, optouts, quiet, status_updates

logger = Logger(child=True)


class RetryLater(Exception):
    """Leave the queue message to be redelivered after ``delay`` seconds."""

    def __init__(self, reason: str, delay: int) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(frozen=True)
class DispatchResult:
    outcome: str  # sent | failed | skipped | unknown | held
    detail: str = ""


def status_callback_url(carrier: str) -> str:
    return f"{get_settings().public_base_url}/carriers/{carrier}/status"


def backoff_seconds(attempt: int) -> int:
    base = get_settings().dispatch_backoff_base
    return int(min(base * 2 ** max(attempt - 1, 0), 900))


def dispatch(member_id: str, message_id: str) -> DispatchResult:
    settings = get_settings()
    portal = _portal(member_id)
    if portal is not None and portal.installed and quiet.hours_of(portal) is not None:
        held = _hold_if_quiet(portal, member_id, message_id)  # a waiting message is held, not claimed
        if held is not None:
            return held
    # The claim first, with no read before it: the conditional write returns the record either way.
    claimed, current = store.messages.claim(member_id, message_id, settings.dispatch_lease_seconds)
    if claimed is None:
        return _not_waiting(current)

    if portal is None or not portal.installed:
        _fail(claimed, "PORTAL_UNINSTALLED", "the portal uninstalled the application")
        return DispatchResult("failed", "portal uninstalled")

    # The portal's own carrier and sender when an operator configured them, else the deployment's.
    config = portal.carrier_for(claimed.code)
    carrier = get_carrier(config.carrier if config else carriers.default_name(), config)
    country = (config.default_country if config else "") or settings.default_country
    account = holds.account_key(carrier.name, config.credentials if config else "")
    gate, hold = account_hold.gate(portal, account, claimed)
    if gate == account_hold.EXPIRE and hold is not None:
        _fail(claimed, hold.code, holds.reason(hold), carrier=carrier.name)
        return DispatchResult("failed", hold.code)
    if gate == account_hold.WAIT and hold is not None:  # the claim given back first, then queued again
        store.messages.release_for_retry(claimed, claimed.error_code, claimed.error_message, refund_attempt=True)
        account_hold.wait(claimed, hold, store.now())
        return DispatchResult("held", hold.code)
    if settings.carrier_rate > 0:
        try:
            TokenBucket(f"carrier#{carrier.name}", settings.carrier_rate, max(1.0, settings.carrier_rate), max_wait=5).acquire()
        except Throttled as exc:  # not this try: the message waits again, the attempt refunded
            store.messages.release_for_retry(claimed, claimed.error_code, claimed.error_message, refund_attempt=True)
            raise RetryLater("carrier send rate reached", int(exc.retry_after) + 1) from exc

    try:
        to = phones.to_e164(claimed.to, country)
    except phones.InvalidNumber as exc:
        _fail(claimed, "INVALID_NUMBER", f"not sent: {exc}")
        return DispatchResult("failed", "INVALID_NUMBER")
    if store.chats.is_opted_out(member_id, to):
        _fail(claimed, "OPTED_OUT", "not sent: the recipient replied STOP to this portal's SMS (START opts back in)")
        return DispatchResult("failed", "OPTED_OUT")
    size = segments.count(claimed.body)
    if size.segments > settings.max_segments:
        _fail(
            claimed, "TOO_MANY_SEGMENTS", f"not sent: {size.segments} SMS parts, more than MAX_SEGMENTS={settings.max_segments}"
        )
        return DispatchResult("failed", "TOO_MANY_SEGMENTS")

    sms = OutboundSms(claimed.key, to, claimed.body, "", encoding=size.encoding)
    try:  # routed by destination; the fallback carrier when the first definitively did not take it
        plan = failover.route(portal, claimed.code, to)
        sent = _send(plan, sms, store.now() - claimed.created_at)
    except account_hold.Refused as exc:  # nothing was sent: the message waits with the account's others
        store.messages.release_for_retry(claimed, exc.code, mask_carrier_text(exc.message), refund_attempt=True)
        account_held = account_hold.refused(
            member_id, account, exc, probing=gate == account_hold.PROBE, forget=lambda: _PORTALS.pop(member_id, None)
        )
        account_hold.wait(claimed, account_held, store.now())
        return DispatchResult("held", exc.code)
    except PermanentCarrierError as exc:
        if exc.code in carriers.opt_out_codes():  # the carrier knows they opted out
            optouts.opt_out(portal, to, exc.code)  # and on the CRM timeline
        _fail(claimed, exc.code, exc.message, carrier=carrier.name)
        return DispatchResult("failed", exc.code)
    except CarrierOutcomeUnknown as exc:
        logger.error("carrier did not answer the send; not sending again", extra={"message_id": message_id, "error": exc.code})
        return _outcome_unknown(claimed)
    except CarrierThrottled as exc:
        store.messages.release_for_retry(claimed, exc.code, mask_carrier_text(exc.message), refund_attempt=True)
        logger.warning("carrier throttled us", extra={"error": exc.code, "retry_after": exc.retry_after})
        raise RetryLater(exc.code, max(1, int(exc.retry_after + 0.999))) from exc
    except TransientCarrierError as exc:
        if claimed.attempts >= settings.dispatch_max_attempts:
            _fail(claimed, exc.code, f"gave up after {claimed.attempts} attempts: {exc.message}", carrier=carrier.name)
            return DispatchResult("failed", exc.code)
        store.messages.release_for_retry(claimed, exc.code, mask_carrier_text(exc.message))
        logger.warning("carrier error, will retry", extra={"error": exc.code, "attempt": claimed.attempts})
        raise RetryLater(exc.code, backoff_seconds(claimed.attempts)) from exc

    carrier, result = sent.carrier, sent.result
    # The portal marked the message `sent` when it handed it to us: the carrier's callbacks take it on.
    recorded = store.messages.record_carrier_accepted(
        claimed,
        carrier.name,
        result.carrier_message_id,
        result.carrier_status,
        to=to,
        encoding=size.encoding,
        segments=size.segments,
        part_ids=result.part_ids,
        config=sent.config,
        failover=sent.failover,
        price=result.price,
        price_unit=result.price_unit,
        # into by-reconcile in this same write, unless the portal turned reconciliation off (its page)
        reconcile_after=carriers.delivery_time(carrier.name) if portal.reconcile != "off" else 0,
    )
    store.chats.remember_recipient(member_id, to)  # a reply from this number finds this portal (two-way SMS)
    if recorded is not None and result.part_ids and any(p["b"] for p in recorded.parts.values()):
        status_updates.settle_parts(recorded, carrier.name)  # segment receipts that beat us here
    if hold is not None:  # the account works again (after the send is recorded)
        account_hold.recovered(member_id, account, hold)
        _PORTALS.pop(member_id, None)
    logger.info(
        "sent to carrier",
        extra={
            "message_id": message_id,
            "carrier": carrier.name,
            "carrier_message_id": result.carrier_message_id,
            "to": mask_phone(claimed.to),
        },
    )
    return DispatchResult("sent", result.carrier_message_id)


def _send(plan: failover.Route, sms: OutboundSms, waited: float) -> failover.Sent:
    """``failover.send``; a refusal a carrier's spec names an account refusal as ``account_hold.Refused``
    (held under the portal's account for the message's sender: the one ``gate`` checks)."""
    try:
        return failover.send(plan, sms, waited, status_callback_url, get_carrier)
    except (PermanentCarrierError, TransientCarrierError) as exc:
        cause = "" if isinstance(exc, CarrierThrottled) else carriers.account_refusal_of(exc.code)
        if cause:
            raise account_hold.Refused(exc.code, exc.message, cause) from exc
        raise


_PORTALS: dict[str, tuple[float, Portal | None]] = {}
PORTAL_CACHE_SECONDS = 5.0


def _portal(member_id: str) -> Portal | None:
    """The portal, read at most every few seconds per warm Lambda: a batch of one portal's messages
    costs one read, and an uninstall still stops sending within seconds."""
    cached = _PORTALS.get(member_id)
    if cached and time.monotonic() - cached[0] < PORTAL_CACHE_SECONDS:
        return cached[1]
    portal = store.portals.get_portal(member_id)
    _PORTALS[member_id] = (time.monotonic(), portal)
    return portal


def _hold_if_quiet(portal: Portal, member_id: str, message_id: str) -> DispatchResult | None:
    """A portal with quiet hours: the message is read before the claim, and held (still waiting,
    not claimed) when its recipient's quiet hours say so. Other portals' messages cost no read."""
    message = store.messages.get_message(member_id, message_id)
    if message is None or message.dispatch_state != DispatchState.ACCEPTED:
        return None  # the claim tells what it is
    config = portal.carrier_for(message.code)
    country = (config.default_country if config else "") or get_settings().default_country
    if quiet.hold_if_quiet(portal, message, country):  # the recipient's quiet hours: sent when they end
        return DispatchResult("held", "quiet hours")
    return None


def _not_waiting(message: Message | None) -> DispatchResult:
    """A queue message for a message that is not waiting to be sent (the claim's failed write said why)."""
    settings = get_settings()
    if message is None:
        return DispatchResult("skipped", "no such message (portal data erased?)")
    if message.dispatch_state == DispatchState.SENDING:
        return _interrupted(message)
    if message.dispatch_state == DispatchState.UNKNOWN:
        if store.now() - message.updated_at < settings.unknown_outcome_grace:
            return DispatchResult("skipped", "interrupted: waiting for a late carrier report")
        if message.status_rank < bitrix_statuses.rank(bitrix_statuses.DELIVERED):
            _fail(message, "DISPATCH_INTERRUPTED", "a dispatch was interrupted mid-send and the carrier reported nothing")
            return DispatchResult("failed", "interrupted, no report")
        return DispatchResult("skipped", "interrupted, but the carrier reported a final status")
    return DispatchResult("skipped", f"already {message.dispatch_state}")


def _interrupted(message: Message) -> DispatchResult:
    now = store.now()
    if message.lease_until > now:
        raise RetryLater("another dispatcher holds the message", message.lease_until - now + 1)
    logger.error("dispatch was interrupted mid-send; not sending again", extra={"message_id": message.message_id})
    return _outcome_unknown(message)


def _outcome_unknown(message: Message) -> DispatchResult:
    """The carrier may have the SMS: never send it again; wait for its callback, then give up."""
    if store.messages.mark_outcome_unknown(message):
        queues.enqueue_dispatch(message.member_id, message.message_id, delay_seconds=get_settings().unknown_outcome_grace)
    return DispatchResult("unknown", "the carrier may have the message")


def _fail(message: Message, code: str, reason: str, carrier: str = "") -> None:
    """The message will never be sent: mark it failed (if nothing later is known) and tell the portal.
    ``reason`` may hold a carrier's own text, which may hold the number (Twilio's 21211 does): it is
    stored and logged only masked."""
    reason = mask_carrier_text(reason)
    advanced = store.messages.advance_status(
        message.member_id,
        message.message_id,
        bitrix_statuses.FAILED,
        bitrix_statuses.rank(bitrix_statuses.FAILED),
        source=f"dispatch:{carrier}" if carrier else "dispatch",
        error_code=code,
        error_message=reason,
        dispatch_state=DispatchState.REJECTED,
    )
    logger.warning(
        "message failed", extra={"message_id": message.message_id, "error": code, "reason": reason, "to": mask_phone(message.to)}
    )
    if advanced:
        queues.enqueue_push(message.member_id, message.message_id)
