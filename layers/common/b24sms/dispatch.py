"""Where a message is sent: one queued message, claimed by one dispatcher, handed to the carrier.

- the claim is a conditional write, so redelivered or duplicated queue messages never send twice;
- a transient carrier error puts the message back (the queue redelivers it after a backoff) until
  ``DISPATCH_MAX_ATTEMPTS``; then, or on a permanent error, the message is ``failed``;
- a claim whose lease ran out means a dispatcher died mid-send: the carrier may have taken the SMS,
  so it is NOT sent again; the message fails with that reason instead (at most once, never twice).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools import Logger

from b24sms import queues, statuses, storage
from b24sms.carriers import OutboundSms, PermanentCarrierError, TransientCarrierError, get_carrier
from b24sms.config import get_settings
from b24sms.models import ACCEPTED, REJECTED, SENDING, Message
from b24sms.privacy import mask_phone

logger = Logger(child=True)

LEASE_SECONDS = 60


class RetryLater(Exception):
    """Leave the queue message to be redelivered after ``delay`` seconds."""

    def __init__(self, reason: str, delay: int) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(frozen=True)
class DispatchResult:
    outcome: str  # sent | failed | skipped
    detail: str = ""


def status_callback_url(carrier: str) -> str:
    return f"{get_settings().public_base_url}/carriers/{carrier}/status"


def backoff_seconds(attempt: int) -> int:
    base = get_settings().dispatch_backoff_base
    return int(min(base * 2 ** max(attempt - 1, 0), 900))


def dispatch(member_id: str, message_id: str) -> DispatchResult:
    message = storage.get_message(member_id, message_id)
    if message is None:
        return DispatchResult("skipped", "no such message (portal data erased?)")
    if message.dispatch_state == SENDING:
        if message.lease_until > storage.now():
            raise RetryLater("another dispatcher holds the message", message.lease_until - storage.now() + 1)
        _fail(message, "DISPATCH_INTERRUPTED", "a dispatch was interrupted mid-send; not re-sent to avoid a duplicate SMS")
        return DispatchResult("failed", "interrupted")
    if message.dispatch_state != ACCEPTED:
        return DispatchResult("skipped", f"already {message.dispatch_state}")

    portal = storage.get_portal(member_id)
    if portal is None or not portal.installed:
        _fail(message, "PORTAL_UNINSTALLED", "the portal uninstalled the application")
        return DispatchResult("failed", "portal uninstalled")

    claimed = storage.claim_for_dispatch(member_id, message_id, LEASE_SECONDS)
    if claimed is None:
        return DispatchResult("skipped", "claimed by another dispatcher")

    settings = get_settings()
    carrier = get_carrier(settings.carrier)
    sms = OutboundSms(claimed.key, claimed.to, claimed.body, status_callback_url(carrier.name))
    try:
        result = carrier.send(sms)
    except PermanentCarrierError as exc:
        _fail(claimed, exc.code, exc.message, carrier=carrier.name)
        return DispatchResult("failed", exc.code)
    except TransientCarrierError as exc:
        if claimed.attempts >= settings.dispatch_max_attempts:
            _fail(claimed, exc.code, f"gave up after {claimed.attempts} attempts: {exc.message}", carrier=carrier.name)
            return DispatchResult("failed", exc.code)
        storage.release_for_retry(claimed, exc.code, exc.message)
        logger.warning("carrier error, will retry", extra={"error": exc.code, "attempt": claimed.attempts})
        raise RetryLater(exc.code, backoff_seconds(claimed.attempts)) from exc

    storage.record_carrier_accepted(claimed, carrier.name, result.carrier_message_id, result.carrier_status)
    storage.advance_status(member_id, message_id, statuses.SENT, statuses.rank(statuses.SENT), source=f"dispatch:{carrier.name}")
    logger.info(
        "sent to carrier",
        extra={"carrier": carrier.name, "carrier_message_id": result.carrier_message_id, "to": mask_phone(claimed.to)},
    )
    return DispatchResult("sent", result.carrier_message_id)


def _fail(message: Message, code: str, reason: str, carrier: str = "") -> None:
    """The message will never be sent: mark it failed (if nothing later is known) and tell the portal."""
    advanced = storage.advance_status(
        message.member_id,
        message.message_id,
        statuses.FAILED,
        statuses.rank(statuses.FAILED),
        source=f"dispatch:{carrier}" if carrier else "dispatch",
        error_code=code,
        error_message=reason,
        dispatch_state=REJECTED,
    )
    logger.warning("message failed", extra={"error": code, "reason": reason, "to": mask_phone(message.to)})
    if advanced:
        queues.enqueue_push(message.member_id, message.message_id)
