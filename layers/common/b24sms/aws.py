"""boto3 clients, created once per process. ``AWS_ENDPOINT_URL`` (read by boto3 itself) points
them at moto's server locally."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def dynamodb() -> Any:
    import boto3  # lazy: keeps module import cheap for code paths that never touch AWS

    return boto3.resource("dynamodb")


@cache
def sqs() -> Any:
    import boto3

    return boto3.client("sqs")


def reset_clients() -> None:
    dynamodb.cache_clear()
    sqs.cache_clear()
