"""One-time wake-ups through EventBridge Scheduler (quiet hours: usecases/quiet.py).

A wake-up is a schedule ``at(...)`` in the deployment's group, named by what it wakes (so asking twice
for the same one creates it once: the second gets ``ConflictException``), that sends a fixed message to
a queue as the template's role and deletes itself once it has run (``ActionAfterCompletion: DELETE``).
Locally, moto stores schedules and the local stack fires the due ones (local/schedules.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from b24sms.adapters.config import get_settings


@cache
def scheduler() -> Any:
    import boto3  # cold start: loaded at the first wake-up asked for, not at import

    return boto3.client("scheduler")


def reset_clients() -> None:
    scheduler.cache_clear()


def wake_once(name: str, at: int, body: dict[str, Any]) -> bool:
    """Have ``body`` sent to the wake-up queue at unix second ``at``; False when ``name`` already exists."""
    settings = get_settings()
    when = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    try:
        scheduler().create_schedule(
            Name=name,
            GroupName=settings.quiet_schedule_group,
            ScheduleExpression=f"at({when})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": settings.quiet_wake_target_arn,
                "RoleArn": settings.quiet_wake_role_arn,
                "Input": json.dumps(body, separators=(",", ":")),
                "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400},
            },
        )
    except Exception as exc:
        if getattr(exc, "response", {}).get("Error", {}).get("Code") == "ConflictException":
            return False
        raise
    return True
