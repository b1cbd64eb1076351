"""The local stack's moto at fleet size (local/moto_speed.py): a deep queue answers as fast as a
shallow one, and answers the same."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from local.moto_server import MotoThread


def _client(service: str, moto: MotoThread) -> Any:
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{moto.port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@pytest.fixture(scope="module")
def sqs():
    moto = MotoThread()
    yield _client("sqs", moto)
    moto.stop()


def test_a_receive_from_a_queue_of_2000_takes_what_it_takes_from_an_empty_one(sqs):
    url = sqs.create_queue(QueueName="deep", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    for start in range(0, 2000, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)])
    started = time.perf_counter()
    got = []
    for _ in range(5):
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    each = (time.perf_counter() - started) / 5
    assert len(got) == 50 and len({m["MessageId"] for m in got}) == 50
    assert each < 0.3, f"a receive of 10 from 2,000 took {each * 1000:.0f} ms"  # moto 5.2 as shipped: ~2,000 ms
    started = time.perf_counter()
    for i in range(20):
        sqs.send_message(QueueUrl=url, MessageBody=f"more{i}")
    assert (time.perf_counter() - started) / 20 < 0.05
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) == ("1970", "50")


def test_messages_past_their_retention_period_are_not_handed_out(sqs):
    url = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="old")
    from moto.sqs.models import sqs_backends

    queue = sqs_backends["123456789012"]["us-east-1"].get_queue("short")
    message = queue._messages[0]
    message.sent_timestamp = int(message.sent_timestamp or 0) - 61_000  # type: ignore[assignment]  # sent 61 s ago, for moto
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)
    sqs.send_message(QueueUrl=url, MessageBody="new")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]] == ["new"]


# -- DynamoDB's answers written directly (moto_speed.dynamodb_json) -----------------------------------
def test_dynamodb_answers_are_what_motos_serializer_writes(monkeypatch):
    """Every shape of answer the product reads (items of every attribute type, ALL_NEW/ALL_OLD,
    queries on an index with a next page, batch reads, counts, consumed capacity, a failed condition)
    is compared with moto's own serializer's answer by the check mode: a difference is a 500."""
    monkeypatch.setenv("MOTO_SPEED_CHECK", "1")
    moto = MotoThread()
    try:
        db = _client("dynamodb", moto)
        db.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gpk")],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        item = {
            "pk": {"S": "p"},
            "sk": {"S": "1"},
            "gpk": {"S": "g"},
            "n": {"N": "1.5"},
            "b": {"B": b"\x00\xffbytes"},
            "bs": {"BS": [b"a", b"b"]},
            "ss": {"SS": ["x", "y"]},
            "ns": {"NS": ["1", "2"]},
            "t": {"BOOL": True},
            "z": {"NULL": True},
            "m": {"M": {"l": {"L": [{"S": "é"}, {"N": "0"}, {"M": {}}]}, "e": {"S": ""}}},
        }
        db.put_item(TableName="t", Item=item, ReturnConsumedCapacity="TOTAL")
        for i in range(2, 6):
            db.put_item(TableName="t", Item={**item, "sk": {"S": str(i)}}, ReturnValues="ALL_OLD")
        got = db.get_item(TableName="t", Key={"pk": {"S": "p"}, "sk": {"S": "1"}}, ConsistentRead=True)["Item"]
        assert got["b"] == {"B": b"\x00\xffbytes"} and got["m"]["M"]["l"]["L"][0] == {"S": "é"}
        assert "Item" not in db.get_item(TableName="t", Key={"pk": {"S": "none"}, "sk": {"S": "1"}})
        new = db.update_item(
            TableName="t",
            Key={"pk": {"S": "p"}, "sk": {"S": "1"}},
            UpdateExpression="SET n = n + :one REMOVE z",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )["Attributes"]
        assert new["n"] == {"N": "2.5"} and "z" not in new
        with pytest.raises(db.exceptions.ConditionalCheckFailedException) as failed:
            db.update_item(
                TableName="t",
                Key={"pk": {"S": "p"}, "sk": {"S": "1"}},
                UpdateExpression="SET n = :one",
                ConditionExpression="attribute_not_exists(pk)",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        assert failed.value.response["Item"]["n"] == {"N": "2.5"}
        page = db.query(
            TableName="t",
            IndexName="by-g",
            KeyConditionExpression="gpk = :g",
            ExpressionAttributeValues={":g": {"S": "g"}},
            Limit=2,
        )
        assert page["Count"] == 2 and "LastEvaluatedKey" in page
        keys = [{"pk": {"S": "p"}, "sk": {"S": str(i)}} for i in range(1, 6)]
        batch = db.batch_get_item(RequestItems={"t": {"Keys": keys, "ConsistentRead": True}})
        assert len(batch["Responses"]["t"]) == 5 and batch["UnprocessedKeys"] == {}
        assert db.scan(TableName="t", Select="COUNT")["Count"] == 5
        db.delete_item(TableName="t", Key=keys[0], ReturnValues="ALL_OLD")
        db.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {**item, "sk": {"S": "9"}}}}])
    finally:
        moto.stop()
