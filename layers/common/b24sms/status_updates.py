"""Where a carrier's delivery report lands: the message is found, the carrier status mapped to
Bitrix24's, the record moved forward only, and a push queued when the portal has something new."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from b24sms import queues, statuses, storage
from b24sms.carriers import StatusReport
from b24sms.models import Message, split_key

logger = Logger(child=True)


def find_message(carrier: str, report: StatusReport) -> Message | None:
    if report.message_key:
        parts = split_key(report.message_key)
        if parts:
            message = storage.get_message(*parts)
            # Our key and the carrier's id must agree once we know the carrier's id.
            if message and (not message.carrier_message_id or message.carrier_message_id == report.carrier_message_id):
                return message
            return None
    return storage.find_by_carrier_id(carrier, report.carrier_message_id)


def apply_report(carrier: str, report: StatusReport) -> str:
    """Returns what happened: advanced, stale (older than what we know), ignored, or unknown."""
    message = find_message(carrier, report)
    if message is None:
        logger.warning(
            "status for an unknown message", extra={"carrier": carrier, "carrier_message_id": report.carrier_message_id}
        )
        return "unknown"
    logger.append_keys(message_id=message.message_id)
    if report.bitrix_status is None:
        return "ignored"
    new_rank = statuses.rank(report.bitrix_status)
    advanced = storage.advance_status(
        message.member_id,
        message.message_id,
        report.bitrix_status,
        new_rank,
        source=f"carrier:{carrier}",
        carrier_status=report.carrier_status,
        error_code=report.error_code,
        error_message=report.error_message,
    )
    if not advanced:
        return "stale"
    if new_rank > message.pushed_rank:
        queues.enqueue_push(message.member_id, message.message_id)
    logger.info("status advanced", extra={"status": report.bitrix_status, "carrier_status": report.carrier_status})
    return "advanced"
