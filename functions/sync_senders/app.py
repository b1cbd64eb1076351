"""Reconcile every installed portal's senders, event bindings and Open Lines connector with this
deployment (run after a URL or name change, and once after upgrading to a version that binds a new
event, e.g. ONAPPUPDATE)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import telemetry
from b24sms.usecases import events

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
@telemetry.traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    reports = events.sync_all()
    return {
        "portals": len(reports),
        "changed": sum(1 for r in reports if r.changed),
        "errors": sum(1 for r in reports if r.error),
        "reports": [r.as_dict() for r in reports],
    }
