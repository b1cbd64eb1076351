"""Sync queue consumer: each message is one portal to sync (or the next page of portals to queue).
A portal that fails defers only its own message (``usecases/sync.py``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import telemetry
from b24sms.usecases import sync

logger = Logger()


@telemetry.metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@telemetry.traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    done = sync.process(event.get("Records", []))
    telemetry.count("PortalsSynced", sum(1 for r in done.reports if not r.error))
    telemetry.count("PortalsChanged", sum(1 for r in done.reports if r.changed and not r.error))
    telemetry.count("PortalSyncsDeferred", len(done.failures))
    return {"batchItemFailures": [{"itemIdentifier": mid} for mid in done.failures]}
