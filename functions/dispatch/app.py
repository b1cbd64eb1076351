"""Outbound queue consumer: send each queued message through the carrier.

A deferred record (carrier down or throttling, send rate reached, another dispatcher holding the
message) is handed back as a ``batchItemFailure`` with its own backoff: that is the plan working, not
an error, so a batch of deferrals alone returns normally. A record that raised anything else counts
as ``DispatchErrors``, and a batch in which every record failed and one really failed is still a
Lambda error (Powertools' ``BatchProcessingError``), as before."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from b24sms.adapters import queues, telemetry
from b24sms.usecases import dispatch, quiet

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def send_one(record: SQSRecord) -> str:
    if quiet.is_wake(record.body):  # a portal's quiet hours are over: queue what they held
        return quiet.wake(record.body)
    member_id, message_id = queues.parse_body(record.body)
    logger.set_correlation_id(message_id)
    logger.append_keys(member_id=member_id)
    try:
        result = dispatch.dispatch(member_id, message_id)
    except dispatch.RetryLater as exc:
        queues.delay_redelivery(record.event_source_arn, record.receipt_handle, exc.delay)
        telemetry.count("SendRetries")
        raise
    metric = {"sent": "MessagesSent", "failed": "SendsFailed", "unknown": "SendsInterrupted", "held": "SendsHeld"}.get(
        result.outcome
    )
    if metric:
        telemetry.count(metric)
    return result.outcome


@telemetry.metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@telemetry.traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = dict(process_partial_response(event=event, record_handler=send_one, processor=processor, context=context))
    errors = [value for _, value, _ in processor.exceptions if not isinstance(value, dispatch.RetryLater)]
    telemetry.count("DispatchErrors", len(errors))
    if errors and len(processor.fail_messages) == len(event.get("Records", [])):
        raise BatchProcessingError(f"every record failed, {len(errors)} of them with an error", list(processor.exceptions))
    return response
