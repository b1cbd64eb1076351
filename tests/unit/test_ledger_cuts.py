"""Issue #18 item 4: the AWS requests an SMS costs, cut where no guarantee needs them (the ledger in
docs/architecture.md). On in-memory stand-ins: each test counts the requests one step makes.

- dispatch claims with no read first: the failed claim's write returns the record (never twice holds:
  the claim is still the one conditional write that decides);
- a portal's opt-outs are read as one list per few seconds, not one GetItem per SMS, and an opt-out
  or opt-in made in the same Lambda is seen at once;
- the recipient item is written once per number, portal and day, not per SMS.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from b24sms.adapters import carriers, queues
from b24sms.adapters.carriers import SendResult
from b24sms.adapters.store import chats
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.errors import Throttled
from b24sms.domain.models import Message, Portal
from b24sms.usecases import dispatch

SETTINGS = SimpleNamespace(
    dispatch_lease_seconds=60,
    carrier_rate=0.0,
    default_country="",
    max_segments=10,
    public_base_url="https://sms.example",
    unknown_outcome_grace=900,
    dispatch_max_attempts=5,
    dispatch_backoff_base=10,
    chats_table="chats",
)


class FakeChatsTable:
    """ChatsTable: ``optout#<member_id>``/phone and ``recipient#<phone>`` items; counts requests."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[str] = []

    def get_item(self, Key: dict[str, str], **_: Any) -> dict[str, Any]:
        self.requests.append("GetItem")
        item = self.items.get((Key["pk"], Key["sk"]))
        return {"Item": item} if item else {}

    def put_item(self, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.requests.append("PutItem")
        self.items[(Item["pk"], Item["sk"])] = Item
        return {}

    def delete_item(self, Key: dict[str, str], **_: Any) -> dict[str, Any]:
        self.requests.append("DeleteItem")
        self.items.pop((Key["pk"], Key["sk"]), None)
        return {}

    def query(self, KeyConditionExpression: Any, Limit: int = 1000, **_: Any) -> dict[str, Any]:
        self.requests.append("Query")
        pk = KeyConditionExpression.get_expression()["values"][1]
        items = [{"sk": sk} for (p, sk) in sorted(self.items) if p == pk]
        page: dict[str, Any] = {"Items": items[:Limit]}
        if len(items) > Limit:
            page["LastEvaluatedKey"] = {"pk": pk, "sk": items[Limit - 1]["sk"]}
        return page

    def count(self, request: str) -> int:
        return self.requests.count(request)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> FakeChatsTable:
    fake = FakeChatsTable()
    monkeypatch.setattr(chats, "_table", lambda: fake)
    monkeypatch.setattr(chats, "get_settings", lambda: SETTINGS)
    monkeypatch.setattr(chats, "_OPT_OUTS", {})
    monkeypatch.setattr(chats, "_REMEMBERED", {})
    return fake


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(chats, "time", fake)
    return fake


# -- opt-outs ----------------------------------------------------------------------------------------
def test_a_portals_opt_outs_are_one_read_for_many_sms(table: FakeChatsTable, clock: Clock) -> None:
    chats.opt_out("p1", "+15550000001", "test")
    table.requests.clear()
    asked = [chats.is_opted_out("p1", f"+1555000000{i}") for i in range(10)]
    assert asked == [False, True] + [False] * 8
    assert table.requests == ["Query"]  # not ten GetItems


def test_the_list_is_read_again_after_its_seconds(table: FakeChatsTable, clock: Clock) -> None:
    assert not chats.is_opted_out("p1", "+15550000001")
    table.items[("optout#p1", "+15550000001")] = {"pk": "optout#p1", "sk": "+15550000001"}  # STOP in another Lambda
    clock.t += chats.OPT_OUT_CACHE_SECONDS - 0.1
    assert not chats.is_opted_out("p1", "+15550000001")
    clock.t += 0.1
    assert chats.is_opted_out("p1", "+15550000001")
    assert table.count("Query") == 2


def test_an_opt_out_or_opt_in_in_this_lambda_is_seen_at_once(table: FakeChatsTable, clock: Clock) -> None:
    assert not chats.is_opted_out("p1", "+15550000001")
    chats.opt_out("p1", "+15550000001", "SANDBOX_OPTED_OUT")
    assert chats.is_opted_out("p1", "+15550000001")
    chats.opt_in("p1", "+15550000001")
    assert not chats.is_opted_out("p1", "+15550000001")


def test_opt_outs_are_per_portal(table: FakeChatsTable, clock: Clock) -> None:
    chats.opt_out("p1", "+15550000001", "test")
    assert chats.is_opted_out("p1", "+15550000001") and not chats.is_opted_out("p2", "+15550000001")


def test_a_portal_with_a_long_list_is_asked_per_number(table: FakeChatsTable, clock: Clock) -> None:
    for i in range(chats.OPT_OUT_LIST + 1):
        table.items[("optout#p1", f"+1555{i:07d}")] = {"pk": "optout#p1", "sk": f"+1555{i:07d}"}
    assert chats.is_opted_out("p1", "+15550000007") and not chats.is_opted_out("p1", "+19990000000")
    assert table.requests == ["Query", "GetItem", "GetItem"]


# -- the recipient item ------------------------------------------------------------------------------
def test_the_recipient_is_written_once_per_number_portal_and_day(table: FakeChatsTable, monkeypatch: pytest.MonkeyPatch) -> None:
    day = 20_000 * 86400
    monkeypatch.setattr(chats, "now", lambda: day + 100)
    for _ in range(3):
        chats.remember_recipient("p1", "+15550000001")
    assert table.count("PutItem") == 1
    chats.remember_recipient("p2", "+15550000001")  # another portal texted the number: replies go there now
    chats.remember_recipient("p1", "+15550000001")  # and back
    assert table.count("PutItem") == 3 and table.items[("recipient#+15550000001", "-")]["member_id"] == "p1"
    monkeypatch.setattr(chats, "now", lambda: day + 86400 + 100)  # the next day: its expiry moves on
    chats.remember_recipient("p1", "+15550000001")
    assert table.count("PutItem") == 4


# -- dispatch: the claim is the first request ------------------------------------------------------------
class FakeMessages:
    def __init__(self, message: Message | None) -> None:
        self.message = message
        self.requests: list[str] = []

    def get_message(self, member_id: str, message_id: str) -> Message | None:
        raise AssertionError("dispatch reads nothing before its claim")

    def claim(self, member_id: str, message_id: str, lease_seconds: int) -> tuple[Message | None, Message | None]:
        self.requests.append("claim")
        if self.message is None or self.message.dispatch_state != DispatchState.ACCEPTED:
            return None, self.message
        self.message = replace(self.message, dispatch_state=DispatchState.SENDING, attempts=self.message.attempts + 1)
        return self.message, None

    def record_carrier_accepted(self, message: Message, *args: Any, **kwargs: Any) -> Message:
        self.requests.append("record_carrier_accepted")
        return replace(message, dispatch_state=DispatchState.SENT)

    def release_for_retry(self, message: Message, code: str, text: str, refund_attempt: bool = False) -> None:
        self.requests.append(f"release_for_retry(refund={refund_attempt})")

    def mark_outcome_unknown(self, message: Message) -> bool:
        self.requests.append("mark_outcome_unknown")
        return True

    def advance_status(self, *args: Any, **kwargs: Any) -> None:
        self.requests.append("advance_status")


class FakeCarrier:
    name = "sandbox"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, sms: Any) -> SendResult:
        self.sent.append(sms.to)
        return SendResult("SBX1")


@pytest.fixture
def sending(monkeypatch: pytest.MonkeyPatch, table: FakeChatsTable, clock: Clock) -> Any:
    carrier = FakeCarrier()

    def setup(message: Message | None) -> FakeMessages:
        messages = FakeMessages(message)
        portals = SimpleNamespace(get_portal=lambda member_id: Portal(member_id, "https://p.example/rest/"))
        monkeypatch.setattr(
            dispatch, "store", SimpleNamespace(messages=messages, portals=portals, chats=chats, now=lambda: 10**9)
        )
        return messages

    monkeypatch.setattr(dispatch, "get_settings", lambda: SETTINGS)
    monkeypatch.setattr(dispatch, "get_carrier", lambda name, config: carrier)
    monkeypatch.setattr(carriers, "default_name", lambda: "sandbox")
    monkeypatch.setattr(carriers, "opt_out_codes", lambda: frozenset())
    monkeypatch.setattr(dispatch, "_PORTALS", {})
    monkeypatch.setattr(queues, "enqueue_dispatch", lambda *a, **k: None)
    setup.carrier = carrier  # type: ignore[attr-defined]
    return setup


def waiting(message_id: str = "m1", to: str = "+15550000001") -> Message:
    return Message("p1", message_id, to=to, body="hi", code="b24sms", dispatch_state=DispatchState.ACCEPTED)


def test_a_send_costs_the_claim_and_the_record_and_no_read(sending: Any, table: FakeChatsTable) -> None:
    messages = sending(waiting())
    assert dispatch.dispatch("p1", "m1").outcome == "sent"
    assert messages.requests == ["claim", "record_carrier_accepted"]
    assert sending.carrier.sent == ["+15550000001"]


def test_a_failed_claim_says_what_the_message_is(sending: Any) -> None:
    sending(None)
    assert dispatch.dispatch("p1", "gone").detail.startswith("no such message")
    sending(replace(waiting(), dispatch_state=DispatchState.SENT))
    assert dispatch.dispatch("p1", "m1").detail == "already sent"
    held = sending(replace(waiting(), dispatch_state=DispatchState.SENDING, lease_until=10**9 + 30))
    with pytest.raises(dispatch.RetryLater):  # another dispatcher holds it
        dispatch.dispatch("p1", "m1")
    died = sending(replace(waiting(), dispatch_state=DispatchState.SENDING, lease_until=10**9 - 1))
    assert dispatch.dispatch("p1", "m1").outcome == "unknown"  # its lease ran out: never sent again
    assert held.requests == ["claim"] and died.requests == ["claim", "mark_outcome_unknown"]
    assert sending.carrier.sent == []


def test_an_opted_out_number_is_not_sent(sending: Any, table: FakeChatsTable) -> None:
    chats.opt_out("p1", "+15550000001", "test")
    messages = sending(waiting())
    assert dispatch.dispatch("p1", "m1").detail == "OPTED_OUT"
    assert messages.requests == ["claim", "advance_status"] and sending.carrier.sent == []


def test_a_campaign_reads_the_opt_outs_once_and_writes_each_recipient_once(sending: Any, table: FakeChatsTable) -> None:
    for i in range(10):
        sending(waiting(f"m{i}", "+15550000001" if i % 2 else f"+1555000010{i}"))
        assert dispatch.dispatch("p1", f"m{i}").outcome == "sent"
    assert table.count("Query") == 1 and table.count("GetItem") == 0
    assert table.count("PutItem") == 6  # five numbers once each, and the one texted five times once


def test_a_send_over_the_carrier_rate_gives_the_claim_back_with_its_attempt(
    sending: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Full:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pass

        def acquire(self) -> None:
            raise Throttled("carrier#sandbox", 2.0)

    monkeypatch.setattr(dispatch, "get_settings", lambda: SimpleNamespace(**{**vars(SETTINGS), "carrier_rate": 5.0}))
    monkeypatch.setattr(dispatch, "TokenBucket", Full)
    messages = sending(waiting())
    with pytest.raises(dispatch.RetryLater):
        dispatch.dispatch("p1", "m1")
    assert messages.requests == ["claim", "release_for_retry(refund=True)"] and sending.carrier.sent == []
