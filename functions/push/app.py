"""Status queue consumer: push changed statuses to their portals, batched per portal. The batching
and deferral policy is the push use cases' (``usecases/push.py``, ``usecases/status_queue.py``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import telemetry
from b24sms.usecases import status_queue

logger = Logger()


@telemetry.metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@telemetry.traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = context.get_remaining_time_in_millis() / 1000 if hasattr(context, "get_remaining_time_in_millis") else None
    result = status_queue.push_records(event.get("Records", []), remaining)
    report = result.report
    telemetry.count("StatusesPushed", len(report.pushed))
    telemetry.count("StatusesDropped", len(report.dropped))
    telemetry.count("StatusesDeferred", len(set(report.failed)))
    telemetry.count("PortalCalls", report.calls)
    logger.info(
        "statuses pushed",
        extra={
            "pushed": len(report.pushed),
            "dropped": len(report.dropped),
            "deferred": len(set(report.failed)),
            "calls": report.calls,
        },
    )
    return {"batchItemFailures": [{"itemIdentifier": rid} for rid in result.failures]}
