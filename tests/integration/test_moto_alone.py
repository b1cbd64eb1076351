"""A test's own moto (tests/moto_alone.py) leaves the session's local stack its tables and queues:
``mock_aws()`` alone reset every backend in this process, the stack's among them."""

from __future__ import annotations

import boto3

from local.stack import LocalStack
from tests.moto_alone import REGION, moto_alone


def test_a_tests_own_moto_leaves_the_stack_its_queues_and_tables(stack: LocalStack) -> None:
    url = stack.queue_url("StatusQueue")
    with moto_alone():
        mine = boto3.client("sqs", region_name=REGION)
        mine.create_queue(QueueName="mine")
    sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint, region_name="us-east-1")
    assert "QueueArn" in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    tables = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint, region_name="us-east-1").list_tables()["TableNames"]
    assert any(name.startswith("MessagesTable") for name in tables)
    with moto_alone():  # and its own region starts empty again
        assert boto3.client("sqs", region_name=REGION).list_queues().get("QueueUrls", []) == []
