"""The SQS client, created once per process (the queues' only way out). ``AWS_ENDPOINT_URL`` (read by
boto3 itself) points it at moto's server locally. DynamoDB is the store's own: ``store/_table.py``."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def sqs() -> Any:
    import boto3  # cold start: loaded at the first queue call, not at import

    return boto3.client("sqs")


def reset_clients() -> None:
    sqs.cache_clear()
