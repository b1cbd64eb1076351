"""What every store module shares: the DynamoDB resource (created once per process; nothing outside
the store reaches it), the tables by setting name, the clock, and conditional writes.

Every state change in the store is a conditional write, so two Lambdas racing on the same record
cannot both win: ``guarded`` runs one and tells "the condition did not hold" (None) from a failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

from b24sms.adapters.config import get_settings


@cache
def dynamodb() -> Any:
    """The boto3 resource. ``AWS_ENDPOINT_URL`` (read by boto3 itself) points it at moto's server locally."""
    import boto3  # cold start: loaded at the first table call, not at import

    return boto3.resource("dynamodb")


def reset_client() -> None:
    """Forget the resource (the local stack changes the endpoint)."""
    dynamodb.cache_clear()


def table(setting: str) -> Any:
    """The DynamoDB table named by a setting (``portals_table``, ``messages_table`` …)."""
    return dynamodb().Table(getattr(get_settings(), setting))


def batch_get_item(request: dict[str, Any]) -> Any:
    return dynamodb().batch_get_item(RequestItems=request)


def aws_error(exc: Exception) -> dict[str, Any]:
    """The ``Error`` (``Code``, ``Message``) of a botocore ClientError; {} for any other exception."""
    return dict((getattr(exc, "response", None) or {}).get("Error", {}))


def conditional_failed(exc: Exception) -> bool:
    return aws_error(exc).get("Code") == "ConditionalCheckFailedException"


def guarded(write: Callable[..., Any], **kwargs: Any) -> Any | None:
    """Run a conditional write: its response, or None when its condition does not hold."""
    try:
        return write(**kwargs)
    except Exception as exc:
        if conditional_failed(exc):
            return None
        raise


def old_item(exc: Exception) -> dict[str, Any] | None:
    """The item a failed conditional write returned (``ReturnValuesOnConditionCheckFailure``), as
    the table resource gives items; None when there was none."""
    from boto3.dynamodb.types import TypeDeserializer  # cold start: boto3 is loaded by the write already

    item = (getattr(exc, "response", None) or {}).get("Item")
    if not item:
        return None
    deserialize = TypeDeserializer().deserialize
    return {name: deserialize(value) for name, value in item.items()}


def now() -> int:
    return int(time.time())
