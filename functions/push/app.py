"""Status queue consumer: push changed statuses to their portals, batched per portal."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from b24sms import pushes, queues

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    keys_by_record: dict[str, tuple[str, str]] = {}
    for record in event.get("Records", []):
        try:
            keys_by_record[record["messageId"]] = queues.parse_body(record["body"])
        except (KeyError, ValueError, TypeError, json.JSONDecodeError):
            logger.error("unreadable status queue message dropped", extra={"sqs_message_id": record.get("messageId")})
    report = pushes.push(list(keys_by_record.values()))
    failed = set(report.failed)
    logger.info(
        "statuses pushed",
        extra={"pushed": len(report.pushed), "dropped": len(report.dropped), "deferred": len(failed), "calls": report.calls},
    )
    return {"batchItemFailures": [{"itemIdentifier": rid} for rid, key in keys_by_record.items() if key in failed]}
