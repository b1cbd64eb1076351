"""Every five minutes: find the messages that stayed non-final past their carrier's delivery time
(the sparse index ``by-reconcile``) and queue them, one message per carrier account, to be asked about."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import telemetry
from b24sms.usecases import reconcile

logger = Logger()


@telemetry.metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
@telemetry.traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    done = reconcile.sweep()
    telemetry.count("ReconcileQueued", done["queued"])
    return done
