"""Where a carrier's delivery report lands: the carrier status mapped to Bitrix24's, the message moved
forward only, and a push queued when the portal has something new to see."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger

from b24sms.adapters import queues, store
from b24sms.adapters.carriers import (
    CallbackRequest,
    SignatureError,
    StatusReport,
    UnknownCarrier,
    callback_key,
    get_carrier,
    price_after,
    spec,
)
from b24sms.domain import bitrix_statuses, errors
from b24sms.domain.models import CarrierConfig, Message, Portal, split_key
from b24sms.domain.privacy import mask_carrier_text
from b24sms.usecases.replies import OPENLINES_CODE

logger = Logger(child=True)

OWN_ACCOUNT = "own account"  # apply_report: not moved, the message was sent with a portal's own account


def receive(carrier_name: str, request: CallbackRequest) -> list[str]:
    """A status callback over HTTP: verified with the credentials the message was sent with (a
    portal's own carrier account, or the deployment's), then applied. Raises SignatureError,
    ValueError (a malformed callback), UnknownCarrier; TryLater when our own records could not be
    read or written, so the carrier retries."""
    found = spec(carrier_name)  # UnknownCarrier before anything of the request is read
    config = None
    key = split_key(callback_key(carrier_name, request))
    member_id = "" if key else found.callback_portal(request)[:64]  # a callback URL given to one portal
    if key:
        applied = _as_deployment(carrier_name, request)
        if applied is not None:
            return applied
    with _ours():
        message = store.messages.get_message(*key) if key else None
        portal = store.portals.get_portal(member_id) if member_id else None
    if message is not None and _sent_with_own(message, carrier_name):
        config = CarrierConfig(carrier_name, message.carrier_sender, credentials=message.carrier_credentials)
    if member_id:  # only that portal's own account verifies it, and it moves only that portal's messages
        config = _own_account(portal, carrier_name)
        if config is None:
            raise SignatureError(f"no {carrier_name} account of that portal verifies this callback")
    carrier = get_carrier(carrier_name, config)
    reports = carrier.parse_status(request)
    with _ours():
        return [apply_report(carrier.name, report, member_id) for report in reports]


def _as_deployment(carrier_name: str, request: CallbackRequest) -> list[str] | None:
    """A callback naming our message, verified with the deployment's credentials without reading the
    message first: each report moves only a message sent with them (a condition on the advance). None:
    they do not verify it, or a report names a message sent with a portal's own account, or a segment
    (a write of its own): the read path decides, as before."""
    try:
        carrier = get_carrier(carrier_name)
        reports = carrier.parse_status(request)
    except (SignatureError, UnknownCarrier):
        return None
    if any(report.part_id for report in reports):
        return None
    outcomes: list[str] = []
    with _ours():
        for report in reports:
            outcome = apply_report(carrier.name, report, defaults_only=True)
            if outcome == OWN_ACCOUNT:
                return None  # what was applied before it is stale there: the advance only moves forward
            outcomes.append(outcome)
    return outcomes


def _sent_with_own(message: Message, carrier: str) -> bool:
    """The message was sent by ``carrier`` with a portal's own sender or credentials."""
    return message.carrier == carrier and bool(message.carrier_sender or message.carrier_credentials)


def _own_account(portal: Portal | None, carrier: str) -> CarrierConfig | None:
    """The installed portal's own account of ``carrier`` (its main settings', a sender's, a route's)."""
    if portal is None or not portal.installed:
        return None
    return next((c for c in portal.own_configs() if c.carrier == carrier and c.credentials), None)


@contextmanager
def _ours() -> Iterator[None]:
    """A ValueError from our store (a record it cannot read) is ours, not the caller's: the edge
    would answer it 400 and the carrier would not call again, so it is a TryLater (503). Other store
    errors (a DynamoDB ClientError) fail the function: a 5xx too."""
    try:
        yield
    except ValueError as exc:
        logger.exception("status not recorded")
        raise errors.TryLater("the status could not be recorded; try again", "store_error") from exc


def _locate(carrier: str, report: StatusReport) -> tuple[str, str] | None:
    """Our key from the callback when the carrier echoes it, else the carrier's id through the index."""
    if report.message_key:
        return split_key(report.message_key)
    return store.messages.find_key_by_carrier_id(carrier, report.carrier_message_id)


def _unknown(carrier: str, report: StatusReport) -> str:
    logger.warning("status for an unknown message", extra={"carrier": carrier, "carrier_message_id": report.carrier_message_id})
    return "unknown"


def apply_report(carrier: str, report: StatusReport, member_id: str = "", source: str = "", defaults_only: bool = False) -> str:
    """Returns what happened: advanced, stale (older than what we know), ignored, or unknown. With
    ``member_id`` (a callback verified by that portal's account) only that portal's messages move;
    with ``defaults_only`` (verified by the deployment's account) only what that account sent, else
    ``OWN_ACCOUNT`` (nothing written).
    ``source``: what the history records (default ``carrier:<name>``; the reconciler's ``reconciler:<name>``)."""
    key = _locate(carrier, report)
    if key is None or (member_id and key[0] != member_id):
        return _unknown(carrier, report)
    if report.part_id:
        return _apply_part(carrier, key, report)
    if report.bitrix_status is None:
        return "ignored"
    # One conditional write, no read first: it only lands if it moves the status forward and the
    # carrier's id matches the one we recorded (if any).
    message = store.messages.advance_status(
        *key,
        report.bitrix_status,
        bitrix_statuses.rank(report.bitrix_status),
        source=source or f"carrier:{carrier}",
        carrier_status=report.carrier_status,
        error_code=report.error_code,
        error_message=mask_carrier_text(report.error_message),  # a carrier's text may name the number
        carrier_message_id=report.carrier_message_id,
        price=report.price,
        price_unit=report.price_unit,
        price_after=price_after(carrier),  # final with no price: the reconciler asks it later, once
        **({"sent_with_defaults": carrier} if defaults_only else {}),
    )
    if message is None:
        current = store.messages.get_message(*key)
        if defaults_only and current is not None and _sent_with_own(current, carrier):
            return OWN_ACCOUNT
        if current is None or (current.carrier_message_id and current.carrier_message_id != report.carrier_message_id):
            return _unknown(carrier, report)
        return "stale"
    return _advanced(message)


def _advanced(message: Message) -> str:
    """The status moved forward: queue a push if the portal has not seen it."""
    if message.status_rank > message.pushed_rank:
        if message.status in bitrix_statuses.FINAL and message.code != OPENLINES_CODE:
            # A final status never changes: the record says so, and the push reads nothing for it.
            queues.enqueue_push(message.member_id, message.message_id, final=(message.status_rank, time.time()))
        else:  # the push reads it (an Open Lines reply's chat fields, a status that may still move)
            queues.enqueue_push(message.member_id, message.message_id)
    logger.info("status advanced", extra={"message_id": message.message_id, "status": message.status})
    return "advanced"


def _apply_part(carrier: str, key: tuple[str, str], report: StatusReport) -> str:
    """A receipt for one segment: kept per segment, then the segments decide the message's status."""
    message = store.messages.record_part_status(*key, report.part_id, report.carrier_status, report.bitrix_status)
    if message is None:
        return "unknown" if store.messages.get_message(*key) is None else "stale"
    return settle_parts(message, carrier, report.error_code, mask_carrier_text(report.error_message))


def settle_parts(message: Message, carrier: str, error_code: str = "", error_message: str = "") -> str:
    """Move a multi-segment message to what its segments say together (bitrix_statuses.combine_parts)."""
    combined = bitrix_statuses.combine_parts([p["b"] for p in message.parts.values()], message.parts_total)
    if combined is None or bitrix_statuses.rank(combined) <= message.status_rank:
        return "ignored" if combined is None else "stale"
    advanced = store.messages.advance_status(
        message.member_id,
        message.message_id,
        combined,
        bitrix_statuses.rank(combined),
        source=f"carrier:{carrier}",
        carrier_status=message.carrier_status,
        error_code=error_code if combined in bitrix_statuses.FINAL and combined != bitrix_statuses.DELIVERED else "",
        error_message=error_message if combined in bitrix_statuses.FINAL and combined != bitrix_statuses.DELIVERED else "",
    )
    return "stale" if advanced is None else _advanced(advanced)
