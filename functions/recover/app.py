"""Every few minutes: queue again the messages that waited too long to be sent, and the status pushes
that waited too long to reach their portal (a lost queue entry either way)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import config, telemetry
from b24sms.usecases import recovery

logger = Logger()


@telemetry.metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@telemetry.traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    requeued = recovery.requeue_stale(config.recover_after())
    statuses = recovery.requeue_unpushed(config.push_recover_after())
    telemetry.count("MessagesRequeued", requeued)
    telemetry.count("StatusesRequeued", statuses)
    return {"requeued": requeued, "statuses_requeued": statuses}
