"""The sender sync as a fan-out (issue #18, item 3), on in-memory stand-ins for PortalsTable and SQS:
the sync function only reads a page of portals and queues a message per portal (ten to a
SendMessageBatch, a continuation for the next page), and the queue's consumer syncs each portal on
its own, a failing portal deferring only its own message."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from b24sms.adapters import aws, config, store, telemetry
from b24sms.domain.errors import Invalid
from b24sms.domain.models import Portal
from b24sms.usecases import bitrix_events, senders, sync
from local.functions import load_handler
from local.lambda_events import LambdaContext
from local.template import Template

ARN = "arn:aws:sqs:us-east-1:123456789012:b24sms-dev-SyncQueue"
URL = "https://sqs.us-east-1.amazonaws.com/123456789012/b24sms-dev-SyncQueue"


class FakeTable:
    """PortalsTable's Scan as DynamoDB does it: ``Limit`` items read, then the filter, then the
    projection; ``LastEvaluatedKey`` while items remain."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = sorted(items, key=lambda i: i["member_id"])
        self.scans: list[dict[str, Any]] = []

    def scan(self, **kwargs: Any) -> dict[str, Any]:
        self.scans.append(kwargs)
        start = 0
        if "ExclusiveStartKey" in kwargs:
            start = next(n for n, i in enumerate(self.items) if i["member_id"] == kwargs["ExclusiveStartKey"]["member_id"]) + 1
        read = self.items[start : start + kwargs["Limit"]]
        wanted = kwargs["ExpressionAttributeValues"][":installed"]
        page: dict[str, Any] = {"Items": [{"member_id": i["member_id"]} for i in read if i["status"] == wanted]}
        if start + kwargs["Limit"] < len(self.items):
            page["LastEvaluatedKey"] = {"member_id": read[-1]["member_id"]}
        return page


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []  # bodies, in order
        self.batches: list[int] = []  # entries per SendMessageBatch
        self.delays: list[tuple[str, int]] = []
        self.refuse: set[str] = set()  # bodies refused once

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        assert QueueUrl == URL and 1 <= len(Entries) <= 10
        self.batches.append(len(Entries))
        failed = []
        for entry in Entries:
            if entry["MessageBody"] in self.refuse:
                self.refuse.discard(entry["MessageBody"])
                failed.append({"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"})
            else:
                self.sent.append(json.loads(entry["MessageBody"]))
        return {"Successful": [], "Failed": failed}

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:
        assert QueueUrl == URL
        self.delays.append((ReceiptHandle, VisibilityTimeout))


@pytest.fixture
def fake_sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSqs]:
    for name, value in {
        "PORTALS_TABLE": "portals",
        "MESSAGES_TABLE": "messages",
        "LIMITS_TABLE": "limits",
        "OUTBOUND_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/b24sms-dev-OutboundQueue",
        "STATUS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/b24sms-dev-StatusQueue",
        "SYNC_QUEUE_URL": URL,
        "BITRIX_CLIENT_ID": "local.app",
        "SYNC_RETRY_BASE": "60",
    }.items():
        monkeypatch.setenv(name, value)
    config.reset_settings()
    fake = FakeSqs()
    monkeypatch.setattr(aws, "sqs", lambda: fake)
    yield fake
    config.reset_settings()


def portals_table(monkeypatch: pytest.MonkeyPatch, installed: int, uninstalled: int = 0) -> FakeTable:
    items = [{"member_id": f"m{n:05d}", "status": "installed"} for n in range(installed)]
    items += [{"member_id": f"m{n:05d}x", "status": "uninstalled"} for n in range(uninstalled)]
    table = FakeTable(items)
    monkeypatch.setattr(store.portals, "_portals", lambda: table)
    return table


def record(body: dict[str, Any] | str, n: int = 0, receives: int = 1) -> dict[str, Any]:
    return {
        "messageId": f"sqs-{n}",
        "receiptHandle": f"rh-{n}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": str(receives)},
        "eventSourceARN": ARN,
    }


def test_every_installed_portal_is_queued_once_in_batches_of_ten_a_page_per_invocation(
    monkeypatch: pytest.MonkeyPatch, fake_sqs: FakeSqs
) -> None:
    table = portals_table(monkeypatch, installed=250, uninstalled=30)

    first = sync.start({})
    assert first.as_dict() == {"queued": first.portals, "next_page": True, "sqs_requests": len(fake_sqs.batches)}
    assert len(table.scans) == 1 and table.scans[0]["Limit"] == sync.PAGE
    assert table.scans[0]["ProjectionExpression"] == "member_id"  # no tokens read to enumerate
    assert len(fake_sqs.batches) <= sync.PAGE // 10 + 1

    # The queue's consumer follows the continuation, one page per message: never a loop over the table.
    invocations = 1
    while continuation := [b for b in fake_sqs.sent if "scan_from" in b and not b.get("done")]:
        (body,) = continuation
        body["done"] = True
        scans, batches = len(table.scans), len(fake_sqs.batches)
        done = sync.process([record({"scan_from": body["scan_from"]})])
        assert done.pages == 1 and not done.failures
        assert len(table.scans) == scans + 1 and len(fake_sqs.batches) - batches <= sync.PAGE // 10 + 1
        invocations += 1
    queued = [b["member_id"] for b in fake_sqs.sent if "member_id" in b]
    assert sorted(queued) == [f"m{n:05d}" for n in range(250)]  # each installed portal once, no uninstalled one
    assert invocations == 3  # 280 items, 100 a page
    assert all(size <= 10 for size in fake_sqs.batches) and sum(fake_sqs.batches) == len(fake_sqs.sent)


def test_member_ids_queue_just_those_portals_without_a_scan(monkeypatch: pytest.MonkeyPatch, fake_sqs: FakeSqs) -> None:
    table = portals_table(monkeypatch, installed=50)
    queued = sync.start({"member_ids": ["a", "b", "a", "c"]})
    assert queued.as_dict() == {"queued": 3, "next_page": False, "sqs_requests": 1}
    assert fake_sqs.sent == [{"member_id": "a"}, {"member_id": "b"}, {"member_id": "c"}]
    assert table.scans == []


@pytest.mark.parametrize(
    "bad",
    [{"member_ids": "abc"}, {"member_ids": [1]}, {"member_ids": [""]}, {"member_ids": ["x" * 65]}, {"member_ids": ["m"] * 1001}],
)
def test_bad_member_ids_are_refused_before_anything_is_queued(fake_sqs: FakeSqs, bad: dict[str, Any]) -> None:
    with pytest.raises(Invalid):
        sync.start(bad)
    assert fake_sqs.sent == []


def test_a_batch_entry_sqs_refuses_is_sent_again(monkeypatch: pytest.MonkeyPatch, fake_sqs: FakeSqs) -> None:
    fake_sqs.refuse.add(json.dumps({"member_id": "b"}, separators=(",", ":")))
    assert sync.start({"member_ids": ["a", "b", "c"]}).requests == 2
    assert sorted(b["member_id"] for b in fake_sqs.sent) == ["a", "b", "c"]


def stand_in_sync(monkeypatch: pytest.MonkeyPatch, outcome: Callable[[str], senders.SyncReport]) -> list[str]:
    """Portals that exist and are installed; ``outcome`` plays each one's sync. Returns the order."""
    order: list[str] = []
    monkeypatch.setattr(store.portals, "get_portal", lambda m: Portal(member_id=m, client_endpoint="", domain=f"{m}.example"))
    monkeypatch.setattr(sync, "client_for", lambda portal: None)

    def run(client: Any, portal: Portal) -> senders.SyncReport:
        order.append(portal.member_id)
        return outcome(portal.member_id)

    monkeypatch.setattr(bitrix_events, "sync_portal", run)
    return order


def test_a_failing_portal_defers_only_its_own_message(monkeypatch: pytest.MonkeyPatch, fake_sqs: FakeSqs) -> None:
    def outcome(member_id: str) -> senders.SyncReport:
        if member_id == "boom":
            raise RuntimeError("DynamoDB throttled")
        report = senders.SyncReport(member_id, "")
        report.error = "INTERNAL_SERVER_ERROR: down" if member_id == "dead" else ""
        return report

    order = stand_in_sync(monkeypatch, outcome)
    done = sync.process(
        [
            record({"member_id": "ok1"}, 1),
            record({"member_id": "dead"}, 2, receives=3),
            record({"member_id": "boom"}, 3),
            record({"member_id": "ok2"}, 4),
        ]
    )
    assert order == ["ok1", "dead", "boom", "ok2"]  # the others synced after the failing ones
    assert done.failures == ["sqs-2", "sqs-3"]
    assert fake_sqs.delays == [("rh-2", 240), ("rh-3", 60)]  # 60 s doubling per receive
    assert [r.member_id for r in done.reports if not r.error] == ["ok1", "ok2"]


def test_the_back_off_doubles_up_to_an_hour(fake_sqs: FakeSqs) -> None:
    assert [sync.retry_delay(n) for n in (1, 2, 3, 6, 7, 8, 50)] == [60, 120, 240, 1920, 3600, 3600, 3600]


def test_a_portal_no_longer_installed_and_a_foreign_message_are_done_not_retried(
    monkeypatch: pytest.MonkeyPatch, fake_sqs: FakeSqs
) -> None:
    monkeypatch.setattr(store.portals, "get_portal", lambda m: None)
    done = sync.process([record({"member_id": "gone"}, 1), record("not json", 2), record({"other": 1}, 3)])
    assert done.failures == [] and done.skipped == 3 and fake_sqs.delays == []


def test_the_consumer_hands_back_a_deferred_portal_without_raising(monkeypatch: pytest.MonkeyPatch, fake_sqs: FakeSqs) -> None:
    def down(member_id: str) -> senders.SyncReport:
        report = senders.SyncReport(member_id, "")
        report.error = "INTERNAL_SERVER_ERROR: down"
        return report

    stand_in_sync(monkeypatch, down)
    metrics: dict[str, float] = {}
    monkeypatch.setattr(telemetry, "count", lambda name, value=1: metrics.__setitem__(name, metrics.get(name, 0) + value))
    [spec] = [f for f in Template().functions() if f.logical_id == "SyncPortalFunction"]
    answer = load_handler(spec, instance="unit-sync")(
        {"Records": [record({"member_id": "dead"}, 7)]}, LambdaContext("SyncPortalFunction")
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "sqs-7"}]}
    assert metrics["PortalSyncsDeferred"] == 1 and metrics["PortalsSynced"] == 0


def test_the_sync_function_itself_makes_no_rest_call(monkeypatch: pytest.MonkeyPatch, fake_sqs: FakeSqs) -> None:
    portals_table(monkeypatch, installed=3)

    def no_rest(*args: Any) -> None:
        raise AssertionError("the sender sync function called a portal")

    monkeypatch.setattr(bitrix_events, "sync_portal", no_rest)
    monkeypatch.setattr(sync, "client_for", no_rest)
    [spec] = [f for f in Template().functions() if f.logical_id == "SyncSendersFunction"]
    answer = load_handler(spec, instance="unit-sync")({}, LambdaContext("SyncSendersFunction"))
    assert answer == {"queued": 3, "next_page": False, "sqs_requests": 1}
