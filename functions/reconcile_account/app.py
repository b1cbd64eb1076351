"""Reconcile queue consumer: each message is one carrier account's due messages; the carrier is asked
about each (paced) and what it says is applied as its callback would be (``usecases/reconcile.py``)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import telemetry
from b24sms.usecases import reconcile

logger = Logger()


@telemetry.metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@telemetry.traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    budget = (lambda: remaining() / 1000) if callable(remaining) else (lambda: 60.0)
    totals: dict[str, int] = {}
    for record in event.get("Records", []):
        for name, value in reconcile.check_account(json.loads(record["body"]), budget).items():
            totals[name] = totals.get(name, 0) + value
    telemetry.count("ReconcileAsked", totals.get("asked", 0))
    telemetry.count("ReconcileAdvanced", totals.get("advanced", 0))
    telemetry.count("ReconcileGivenUp", totals.get("given_up", 0))
    return totals
