"""The two SQS queues between the steps: outbound (handler -> dispatch) and status (-> push)."""

from __future__ import annotations

import json
from typing import Any

from b24sms.adapters import aws
from b24sms.adapters.config import get_settings


def _body(member_id: str, message_id: str) -> str:
    return json.dumps({"member_id": member_id, "message_id": message_id}, separators=(",", ":"))


def parse_body(body: str) -> tuple[str, str]:
    data: Any = json.loads(body)
    return str(data["member_id"]), str(data["message_id"])


def enqueue_dispatch(member_id: str, message_id: str, delay_seconds: int = 0) -> None:
    aws.sqs().send_message(
        QueueUrl=get_settings().outbound_queue_url,
        MessageBody=_body(member_id, message_id),
        DelaySeconds=max(0, min(delay_seconds, 900)),
    )


def enqueue_push(member_id: str, message_id: str) -> None:
    aws.sqs().send_message(QueueUrl=get_settings().status_queue_url, MessageBody=_body(member_id, message_id))


def delay_redelivery(queue_arn: str, receipt_handle: str, seconds: int) -> None:
    """Back off: the failed SQS message becomes visible again only after ``seconds``."""
    aws.sqs().change_message_visibility(
        QueueUrl=_queue_url(queue_arn), ReceiptHandle=receipt_handle, VisibilityTimeout=max(0, min(seconds, 43200))
    )


def _queue_url(queue_arn: str) -> str:
    """The URL of the queue a record came from, without asking SQS (no role may sqs:GetQueueUrl): the
    configured URL of that queue (locally moto's), else the one its ARN implies."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not all(parts[1:]):
        raise ValueError(f"{queue_arn!r} is not an SQS queue ARN")
    _, partition, _, region, account, name = parts
    settings = get_settings()
    for url in (settings.outbound_queue_url, settings.status_queue_url):
        if url.rstrip("/").rsplit("/", 1)[-1] == name:
            return url
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{suffix}/{account}/{name}"
