"""Where a carrier's delivery report lands: the carrier status mapped to Bitrix24's, the message moved
forward only, and a push queued when the portal has something new to see."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from b24sms import queues, statuses, storage
from b24sms.carriers import StatusReport
from b24sms.models import split_key

logger = Logger(child=True)


def _locate(carrier: str, report: StatusReport) -> tuple[str, str] | None:
    """Our key from the callback when the carrier echoes it, else the carrier's id through the index."""
    if report.message_key:
        return split_key(report.message_key)
    return storage.find_key_by_carrier_id(carrier, report.carrier_message_id)


def _unknown(carrier: str, report: StatusReport) -> str:
    logger.warning("status for an unknown message", extra={"carrier": carrier, "carrier_message_id": report.carrier_message_id})
    return "unknown"


def apply_report(carrier: str, report: StatusReport) -> str:
    """Returns what happened: advanced, stale (older than what we know), ignored, or unknown."""
    key = _locate(carrier, report)
    if key is None:
        return _unknown(carrier, report)
    if report.bitrix_status is None:
        return "ignored"
    # One conditional write, no read first: it only lands if it moves the status forward and the
    # carrier's id matches the one we recorded (if any).
    message = storage.advance_status(
        *key,
        report.bitrix_status,
        statuses.rank(report.bitrix_status),
        source=f"carrier:{carrier}",
        carrier_status=report.carrier_status,
        error_code=report.error_code,
        error_message=report.error_message,
        carrier_message_id=report.carrier_message_id,
    )
    if message is None:
        current = storage.get_message(*key)
        if current is None or (current.carrier_message_id and current.carrier_message_id != report.carrier_message_id):
            return _unknown(carrier, report)
        return "stale"
    if message.status_rank > message.pushed_rank:
        queues.enqueue_push(message.member_id, message.message_id)
    logger.info("status advanced", extra={"message_id": message.message_id, "status": report.bitrix_status})
    return "advanced"
