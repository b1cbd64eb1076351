"""The local stack behaves as AWS does where our guarantees depend on it: conditional writes are
atomic (moto's DynamoDB alone is not), and concurrent invocations of one function do not share
per-invocation state (in Lambda each has an execution environment of its own)."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import boto3
import pytest

from b24sms.usecases import dispatch
from local.stack import LocalStack
from local.template import REGION


def _claim(client: Any, table: str, key: dict[str, Any], i: int, barrier: threading.Barrier, winners: list[int]) -> None:
    """What dispatch's claim does: take the item only if it is still waiting."""
    barrier.wait()
    try:
        client.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #s = :sending, owner_id = :me",
            ConditionExpression="#s = :accepted",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":sending": {"S": "sending"}, ":accepted": {"S": "accepted"}, ":me": {"N": str(i)}},
        )
        winners.append(i)
    except client.exceptions.ConditionalCheckFailedException:
        pass


def test_one_winner_for_concurrent_conditional_claims(stack: LocalStack):
    """Without the lock around moto's DynamoDB, two of six threads won the same claim in ~1 round in 5."""
    table = f"race-{uuid.uuid4().hex[:8]}"
    setup = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint, region_name=REGION)
    setup.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    threads_count, rounds = 6, 60
    clients = [boto3.client("dynamodb", endpoint_url=stack.aws_endpoint, region_name=REGION) for _ in range(threads_count)]
    try:
        for round_ in range(rounds):
            key = {"k": {"S": f"item{round_}"}}
            setup.put_item(TableName=table, Item={**key, "state": {"S": "accepted"}})
            barrier = threading.Barrier(threads_count)
            winners: list[int] = []

            threads = [threading.Thread(target=_claim, args=(c, table, key, i, barrier, winners)) for i, c in enumerate(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(winners) == 1, (round_, winners)
            stored = setup.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
            assert stored["owner_id"]["N"] == str(winners[0])
    finally:
        setup.delete_table(TableName=table)


def test_concurrent_batches_of_one_function_report_their_own_failures(stack: LocalStack, monkeypatch: pytest.MonkeyPatch):
    """Two pollers of the dispatch function at once: each gets back exactly its own batch's failures
    (a module-level BatchProcessor shared between them returned each other's)."""
    real = dispatch.dispatch
    member = f"race-{uuid.uuid4().hex[:8]}"

    def slow(member_id: str, message_id: str) -> dispatch.DispatchResult:
        if member_id != member:  # anything else the live pollers handle meanwhile
            return real(member_id, message_id)
        time.sleep(0.2)  # both batches are in flight at once
        if message_id.startswith("bad"):
            raise ValueError("this one fails")
        return dispatch.DispatchResult("skipped", "test")

    monkeypatch.setattr(dispatch, "dispatch", slow)
    arn = stack.template.physical["OutboundQueue"]["Arn"]

    def event(ids: list[str]) -> dict[str, Any]:
        messages = [
            {"MessageId": f"sqs-{m}", "ReceiptHandle": f"rh-{m}", "Body": f'{{"member_id":"{member}","message_id":"{m}"}}'}
            for m in ids
        ]
        from local.lambda_events import sqs_event

        return sqs_event(messages, arn)

    batches = {"a": event(["ok-a1", "bad-a2", "ok-a3"]), "b": event(["bad-b1", "ok-b2", "ok-b3"])}
    handlers = {name: stack.poller_handler("DispatchFunction", 100 + i) for i, name in enumerate(batches)}
    results: dict[str, Any] = {}
    barrier = threading.Barrier(2)

    def run(name: str) -> None:
        barrier.wait()
        try:
            results[name] = stack.invoke("DispatchFunction", batches[name], handlers[name])
        except Exception as exc:  # reported by the assertion below
            results[name] = exc

    threads = [threading.Thread(target=run, args=(name,)) for name in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {
        "a": {"batchItemFailures": [{"itemIdentifier": "sqs-bad-a2"}]},
        "b": {"batchItemFailures": [{"itemIdentifier": "sqs-bad-b1"}]},
    }
