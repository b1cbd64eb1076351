"""Deferral is not an error (issue #17): a queue batch whose every record is deferred (carrier down,
rate reached, portal down) hands its records back as ``batchItemFailures`` without raising, so a
carrier outage is not an error storm; a record that really failed still makes a whole failed batch a
Lambda error, and is counted apart from deferrals."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from b24sms.adapters import queues, telemetry
from b24sms.usecases import dispatch, push
from local.functions import load_handler
from local.lambda_events import LambdaContext
from local.template import Template

ARN = "arn:aws:sqs:us-east-1:123456789012:b24sms-dev-outbound"


def handler(name: str) -> Callable[[dict[str, Any], Any], Any]:
    [spec] = [f for f in Template().functions() if f.logical_id == name]
    return load_handler(spec, instance="unit-deferral")


def event(*message_ids: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"sqs-{m}",
                "receiptHandle": f"rh-{m}",
                "body": json.dumps({"member_id": "portal-1", "message_id": m}),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": ARN,
                "awsRegion": "us-east-1",
            }
            for m in message_ids
        ]
    }


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    metrics: dict[str, float] = {}
    monkeypatch.setattr(telemetry, "count", lambda name, value=1: metrics.__setitem__(name, metrics.get(name, 0) + value))
    delays: list[tuple[str, int]] = []
    monkeypatch.setattr(queues, "delay_redelivery", lambda arn, handle, seconds: delays.append((handle, seconds)))
    return metrics


def test_a_whole_dispatch_batch_deferred_returns_its_failures_without_raising(
    monkeypatch: pytest.MonkeyPatch, counted: dict[str, float]
):
    def carrier_down(member_id: str, message_id: str) -> dispatch.DispatchResult:
        raise dispatch.RetryLater("HTTP_503", 10)

    monkeypatch.setattr(dispatch, "dispatch", carrier_down)
    result = handler("DispatchFunction")(event("a", "b", "c"), LambdaContext("DispatchFunction"))
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == ["sqs-a", "sqs-b", "sqs-c"]
    assert counted.get("SendRetries") == 3 and not counted.get("DispatchErrors")


def test_a_whole_dispatch_batch_that_really_failed_is_still_an_error(monkeypatch: pytest.MonkeyPatch, counted: dict[str, float]):
    def broken(member_id: str, message_id: str) -> dispatch.DispatchResult:
        if message_id == "a":
            raise dispatch.RetryLater("HTTP_503", 10)
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(dispatch, "dispatch", broken)
    with pytest.raises(BatchProcessingError):
        handler("DispatchFunction")(event("a", "b"), LambdaContext("DispatchFunction"))
    assert counted.get("DispatchErrors") == 1 and counted.get("SendRetries") == 1


def test_a_partly_failed_dispatch_batch_reports_only_its_failures(monkeypatch: pytest.MonkeyPatch, counted: dict[str, float]):
    def some(member_id: str, message_id: str) -> dispatch.DispatchResult:
        if message_id == "b":
            raise RuntimeError("boom")
        return dispatch.DispatchResult("sent", "SBX1")

    monkeypatch.setattr(dispatch, "dispatch", some)
    result = handler("DispatchFunction")(event("a", "b"), LambdaContext("DispatchFunction"))
    assert result["batchItemFailures"] == [{"itemIdentifier": "sqs-b"}]
    assert counted.get("DispatchErrors") == 1 and counted.get("MessagesSent") == 1


def test_a_whole_push_batch_deferred_returns_its_failures_without_raising(
    monkeypatch: pytest.MonkeyPatch, counted: dict[str, float]
):
    def portal_down(keys: list[tuple[str, str]], deadline: float | None = None, finals: object = None) -> push.PushReport:
        return push.PushReport(failed=list(keys))

    monkeypatch.setattr(push, "push", portal_down)
    monkeypatch.setattr(push, "retry_delay", lambda receives: 5)
    result = handler("PushFunction")(event("a", "b"), LambdaContext("PushFunction"))
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == ["sqs-a", "sqs-b"]
    assert counted.get("StatusesDeferred") == 2
