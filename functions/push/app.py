"""Status queue consumer: push changed statuses to their portals, batched per portal."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from b24sms import pushes, queues, telemetry

logger = Logger()


@telemetry.metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records: dict[str, dict[str, Any]] = {}
    keys_by_record: dict[str, tuple[str, str]] = {}
    for record in event.get("Records", []):
        try:
            keys_by_record[record["messageId"]] = queues.parse_body(record["body"])
            records[record["messageId"]] = record
        except (KeyError, ValueError, TypeError, json.JSONDecodeError):
            logger.error("unreadable status queue message dropped", extra={"sqs_message_id": record.get("messageId")})
    report = pushes.push(list(keys_by_record.values()))
    failed = set(report.failed)
    telemetry.count("StatusesPushed", len(report.pushed))
    telemetry.count("StatusesDropped", len(report.dropped))
    telemetry.count("StatusesDeferred", len(failed))
    telemetry.count("PortalCalls", report.calls)
    logger.info(
        "statuses pushed",
        extra={"pushed": len(report.pushed), "dropped": len(report.dropped), "deferred": len(failed), "calls": report.calls},
    )
    failures = [rid for rid, key in keys_by_record.items() if key in failed]
    for rid in failures:
        # A portal that is down may stay down for hours: back off per message, up to an hour, so the
        # status waits in the queue (kept 14 days) instead of burning its receives into the DLQ.
        record = records[rid]
        receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        delay = max(pushes.retry_delay(receives), int(report.retry_after) + 1 if report.retry_after else 0)
        queues.delay_redelivery(record["eventSourceARN"], record["receiptHandle"], delay)
    return {"batchItemFailures": [{"itemIdentifier": rid} for rid in failures]}
