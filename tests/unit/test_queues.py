"""The queues' redelivery delay names its queue by URL without asking SQS (sqs:GetQueueUrl is granted
to no role): the configured URL of the record's queue, else the URL its ARN implies."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from b24sms.adapters import aws, queues

OUTBOUND = "https://sqs.eu-west-1.amazonaws.com/111122223333/b24sms-prod-OutboundQueue-AbC"
STATUS = "https://sqs.eu-west-1.amazonaws.com/111122223333/b24sms-prod-StatusQueue-XyZ"


class RecordingSqs:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def change_message_visibility(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("ChangeMessageVisibility", kwargs))
        return {}

    def send_message_batch(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("SendMessageBatch", kwargs))
        return {"Failed": []}

    def get_queue_url(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("GetQueueUrl", kwargs))
        return {"QueueUrl": "https://sqs.example/asked"}


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> RecordingSqs:
    monkeypatch.setattr(
        queues, "get_settings", lambda: SimpleNamespace(outbound_queue_url=OUTBOUND, status_queue_url=STATUS, sync_queue_url="")
    )
    fake = RecordingSqs()
    monkeypatch.setattr(aws, "sqs", lambda: fake)
    return fake


def test_a_configured_queue_is_named_by_its_configured_url(sqs: RecordingSqs):
    queues.delay_redelivery("arn:aws:sqs:eu-west-1:111122223333:b24sms-prod-StatusQueue-XyZ", "r", 60)
    assert sqs.calls == [("ChangeMessageVisibility", {"QueueUrl": STATUS, "ReceiptHandle": "r", "VisibilityTimeout": 60})]


@pytest.mark.parametrize(
    ("arn", "url"),
    [
        ("arn:aws:sqs:us-east-2:444455556666:other-queue", "https://sqs.us-east-2.amazonaws.com/444455556666/other-queue"),
        ("arn:aws-cn:sqs:cn-north-1:444455556666:q", "https://sqs.cn-north-1.amazonaws.com.cn/444455556666/q"),
    ],
)
def test_another_queue_is_named_by_the_url_its_arn_implies_without_asking_sqs(sqs: RecordingSqs, arn: str, url: str):
    queues.delay_redelivery(arn, "r", 5)
    assert [name for name, _ in sqs.calls] == ["ChangeMessageVisibility"]
    assert sqs.calls[0][1]["QueueUrl"] == url


def test_an_arn_that_is_not_a_queues_is_refused(sqs: RecordingSqs):
    with pytest.raises(ValueError, match="not an SQS queue ARN"):
        queues.delay_redelivery("OutboundQueue", "r", 5)
    assert sqs.calls == []


def test_waiting_portals_become_one_delayed_token_each_ten_to_a_request(sqs: RecordingSqs):
    """Records that wait on purpose cost one SendMessageBatch entry per portal, not a request each."""
    assert queues.enqueue_portal_waits({f"p{n}": n % 3 for n in range(12)}) == 2
    entries = [e for _, kwargs in sqs.calls for e in kwargs["Entries"]]
    assert {kwargs["QueueUrl"] for _, kwargs in sqs.calls} == {STATUS}
    assert [e["DelaySeconds"] for e in entries] == [n % 3 for n in range(12)]
    assert queues.parse_body(entries[5]["MessageBody"], portal_token=True) == ("p5", "")  # drains the portal
