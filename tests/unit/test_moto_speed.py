"""The local stack's moto at fleet size (local/moto_speed.py): a deep queue answers as fast as a
shallow one, and answers the same."""

from __future__ import annotations

import time

import boto3
import pytest

from local.moto_server import MotoThread


@pytest.fixture(scope="module")
def sqs():
    moto = MotoThread()
    client = boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{moto.port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    yield client
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
