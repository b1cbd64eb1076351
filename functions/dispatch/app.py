"""Outbound queue consumer: send each queued message through the carrier."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from b24sms.adapters import queues, telemetry
from b24sms.usecases import dispatch

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


def send_one(record: SQSRecord) -> str:
    member_id, message_id = queues.parse_body(record.body)
    logger.set_correlation_id(message_id)
    logger.append_keys(member_id=member_id)
    try:
        result = dispatch.dispatch(member_id, message_id)
    except dispatch.RetryLater as exc:
        queues.delay_redelivery(record.event_source_arn, record.receipt_handle, exc.delay)
        telemetry.count("SendRetries")
        raise
    metric = {"sent": "MessagesSent", "failed": "SendsFailed", "unknown": "SendsInterrupted"}.get(result.outcome)
    if metric:
        telemetry.count(metric)
    return result.outcome


@telemetry.metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@telemetry.traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return dict(process_partial_response(event=event, record_handler=send_one, processor=processor, context=context))
