"""The status push at fleet size (issue #18 items 1 and 2), on in-memory stand-ins: a store with the
``by-push-pending`` semantics, a queue that records deferrals, and portals that answer at once, slowly
or not at all. No moto, no HTTP.

- coalescing: a portal's pending statuses go 50 to a ``batch`` call whatever else shares the receive;
- isolation: a slow or down portal costs only itself, and only its records are deferred;
- never backwards, never pushed twice, counted once.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from b24sms.adapters import queues
from b24sms.adapters.bitrix import OperationTimeLimit, PortalUnavailable
from b24sms.adapters.bitrix.client import BatchResult, BitrixClient
from b24sms.domain import bitrix_statuses
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import Message, Portal
from b24sms.usecases import push, push_turn, status_queue
from local.memory.jobs import MemoryJobs

ARN = "arn:aws:sqs:us-east-1:123456789012:b24sms-dev-status"


class FakeMessages:
    """The messages table with the sparse index: a message is in ``by-push-pending`` from the write
    that advances its status above ``sent`` until ``mark_pushed`` catches up with it."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Message] = {}
        self.index: dict[tuple[str, str], int] = {}  # key -> push_since
        self.day_counts: dict[tuple[str, str], dict[str, int]] = {}
        self.index_queries: list[str] = []
        self.lock = threading.Lock()
        self.clock = 0

    def advance(self, member_id: str, message_id: str, status: str = "delivered") -> None:
        with self.lock:
            key = (member_id, message_id)
            message = self.items.get(key) or Message(
                member_id, message_id, code="b24sms", dispatch_state=DispatchState.SENT, created_at=1_700_000_000
            )
            self.items[key] = replace(message, status=status, status_rank=bitrix_statuses.rank(status))
            self.clock += 1
            self.index[key] = self.clock

    def get_messages(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Message]:
        with self.lock:
            return {k: replace(self.items[k]) for k in keys if k in self.items}

    def pending_for_portal(self, member_id: str, limit: int = 500) -> tuple[list[Message], bool]:
        with self.lock:
            self.index_queries.append(member_id)
            keys = sorted((k for k in self.index if k[0] == member_id), key=self.index.__getitem__)
            return [replace(self.items[k]) for k in keys[:limit]], len(keys) > limit

    def mark_pushed(self, member_id: str, message_id: str, pushed_rank: int, note: str = "") -> bool:
        with self.lock:
            key = (member_id, message_id)
            message = self.items[key]
            if message.pushed_rank >= pushed_rank:
                return False
            self.items[key] = replace(message, pushed_rank=pushed_rank)
            if message.status_rank <= pushed_rank:
                self.index.pop(key, None)
            return True

    def add_day_counts(
        self, counts: dict[tuple[str, str], dict[str, int]], seen: dict[tuple[str, str], dict[str, int]] | None = None
    ) -> int:
        with self.lock:
            for key, increments in counts.items():
                day = self.day_counts.setdefault(key, {})
                for name, value in increments.items():
                    day[name] = day.get(name, 0) + value
                if seen is not None:
                    seen[key] = dict(day)
            return len(counts)


class FakeLimits:
    """LimitsTable's push turns: one drain of a portal at a time, and when it last pushed."""

    def __init__(self) -> None:
        self.turns: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()

    def push_turn(self, member_id: str) -> Any:
        with self.lock:
            turn = self.turns.get(member_id, {})
            return SimpleNamespace(
                busy_until=turn.get("busy_until", 0.0),
                last_push=turn.get("last_push", 0.0),
                wake_at=turn.get("wake_at", 0.0),
                linger=turn.get("linger", 0.0),
            )

    def set_push_wake(self, member_id: str, at: float) -> None:
        with self.lock:
            self.turns.setdefault(member_id, {})["wake_at"] = at

    def take_push_turn(self, member_id: str, owner: str, until: float) -> bool:
        with self.lock:
            turn = self.turns.setdefault(member_id, {})
            if turn.get("busy_until", 0.0) >= time.time():
                return False
            turn.update(busy_until=until, owner=owner)
            return True

    def end_push_turn(self, member_id: str, owner: str, pushed: bool, linger: float = 0.0) -> None:
        with self.lock:
            turn = self.turns[member_id]
            if turn.get("owner") == owner:
                turn.pop("busy_until", None)
                turn.pop("owner", None)
                if pushed:
                    turn["last_push"] = time.time()
                    turn["linger"] = linger


class FakePortal:
    """A portal's REST endpoint: ``mode`` ok, slow (``delay`` s a call, or the read timeout), down
    (connection refused), busy (503), or closed (OPERATION_TIME_LIMIT)."""

    def __init__(self, member_id: str, mode: str = "ok", delay: float = 0.0) -> None:
        self.member_id, self.mode, self.delay = member_id, mode, delay
        self.calls: list[tuple[str, int, float, float]] = []  # (method, commands, started, ended)
        self.seen: dict[str, list[str]] = {}  # message_id -> statuses pushed, in order
        self.attempts = 0  # requests tried, answered or not


class FakeClient:
    def __init__(self, portal: FakePortal) -> None:
        self.portal = portal
        self.requests_made = 0
        self.timeout: float | tuple[float, float] = 10.0

    def _request(self, method: str, commands: list[dict[str, str]]) -> None:
        self.requests_made += 1
        self.portal.attempts += 1
        started = time.monotonic()
        portal = self.portal
        if portal.mode == "down":
            raise PortalUnavailable("NETWORK_ERROR", "ConnectionError", 0, method)
        if portal.mode == "busy":
            raise PortalUnavailable("INTERNAL_SERVER_ERROR", "", 503, method)
        if portal.mode == "closed":
            raise OperationTimeLimit("OPERATION_TIME_LIMIT", "", 429, method, time.time() + 600)
        if portal.mode == "slow":
            read = self.timeout[1] if isinstance(self.timeout, tuple) else self.timeout
            time.sleep(min(portal.delay, read))
            if portal.delay > read:
                raise PortalUnavailable("NETWORK_ERROR", "ReadTimeout", 0, method)
        for params in commands:
            portal.seen.setdefault(params["MESSAGE_ID"], []).append(params["STATUS"])
        portal.calls.append((method, len(commands), started, time.monotonic()))

    def batch(self, commands: dict[str, tuple[str, dict[str, str]]], halt: bool = False) -> BatchResult:
        self._request("batch", [params for _, params in commands.values()])
        return BatchResult(results={key: True for key in commands})

    def call(self, method: str, params: dict[str, str]) -> Any:
        self._request(method, [params])
        return True


class Fleet:
    def __init__(self) -> None:
        self.messages = FakeMessages()
        self.limits = FakeLimits()
        self.portals: dict[str, FakePortal] = {}
        self.delays: dict[str, int] = {}  # receipt handle -> seconds
        self.tokens: list[dict[str, int]] = []  # each enqueue_portal_waits call: portal -> seconds

    def portal(self, member_id: str, mode: str = "ok", delay: float = 0.0) -> FakePortal:
        self.portals[member_id] = FakePortal(member_id, mode, delay)
        return self.portals[member_id]

    def get_portal(self, member_id: str) -> Portal | None:
        return Portal(member_id, f"https://{member_id}.example/rest/") if member_id in self.portals else None

    def statuses(self, member_id: str, count: int, status: str = "delivered") -> list[tuple[str, str]]:
        keys = [(member_id, f"{member_id}-m{len(self.messages.items) + i}") for i in range(count)]
        for key in keys:
            self.messages.advance(*key, status)
        return keys

    def batch_calls(self, member_id: str) -> int:
        return len(self.portals[member_id].calls)


@pytest.fixture
def fleet(monkeypatch: pytest.MonkeyPatch) -> Fleet:
    fleet = Fleet()
    stand_in = fleet.messages  # the messages table, its push-pending index and its day counters
    store = SimpleNamespace(
        messages=stand_in, pushes=stand_in, counters=stand_in, portals=fleet, limits=fleet.limits, jobs=MemoryJobs()
    )
    monkeypatch.setattr(push, "store", store)
    monkeypatch.setattr(push_turn, "store", store)  # the wake of a delayed token (note_wakes)
    monkeypatch.setattr(
        push, "client_for", lambda portal, max_wait=10.0, fail_fast=False: FakeClient(fleet.portals[portal.member_id])
    )
    monkeypatch.setattr(queues, "delay_redelivery", lambda arn, handle, seconds: fleet.delays.__setitem__(handle, seconds))
    monkeypatch.setattr(queues, "enqueue_portal_waits", fleet.tokens.append)
    monkeypatch.setattr(push, "retry_delay", lambda receives: 5 * receives)
    return fleet


def records(*keys: tuple[str, str]) -> list[dict[str, Any]]:
    out = []
    for member_id, message_id in keys:
        body = {"member_id": member_id, "message_id": message_id} if message_id else {"member_id": member_id}
        rid = f"{member_id}/{message_id or '*'}"
        out.append(
            {
                "messageId": rid,
                "receiptHandle": f"rh-{rid}",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSourceARN": ARN,
            }
        )
    return out


# -- coalescing ---------------------------------------------------------------------------------
def test_20_statuses_of_a_portal_go_in_one_batch_call(fleet: Fleet) -> None:
    fleet.portal("p1")
    keys = fleet.statuses("p1", 20)
    report = push.push(keys)
    assert sorted(report.pushed) == sorted(keys)
    assert [c[:2] for c in fleet.portals["p1"].calls] == [("batch", 20)]


def test_120_statuses_of_a_portal_go_in_three_batch_calls(fleet: Fleet) -> None:
    fleet.portal("p1")
    keys = fleet.statuses("p1", 120)
    push.push(keys)
    assert [c[:2] for c in fleet.portals["p1"].calls] == [("batch", 50), ("batch", 50), ("batch", 20)]


def test_one_record_of_a_portal_drains_all_its_pending_statuses(fleet: Fleet) -> None:
    """A receive shared by 40 portals holds about one record each: each portal still gets its 20
    statuses in one call (the rest come from the index), not 20 calls over 20 receives."""
    keys = []
    for n in range(40):
        fleet.portal(f"p{n}")
        keys += fleet.statuses(f"p{n}", 20)
    first_of_each = [k for i, k in enumerate(keys) if i % 20 == 0]
    result = status_queue.push_records(records(*first_of_each))
    assert len(result.report.pushed) == 800 and not result.failures
    assert result.report.calls == 40  # 0.05 REST calls per status
    assert all(fleet.batch_calls(f"p{n}") == 1 for n in range(40))


def test_records_whose_statuses_an_earlier_drain_pushed_cost_nothing(fleet: Fleet) -> None:
    fleet.portal("p1")
    keys = fleet.statuses("p1", 20)
    status_queue.push_records(records(keys[0]))
    queries = len(fleet.messages.index_queries)
    result = status_queue.push_records(records(*keys[1:]))  # the other 19 records arrive later
    assert result.report.calls == 0 and not result.failures and not result.report.pushed
    assert len(fleet.messages.index_queries) == queries  # not even an index query
    assert fleet.batch_calls("p1") == 1


def test_a_portal_token_drains_the_portal(fleet: Fleet) -> None:
    """The recovery sweep's token names only the portal."""
    fleet.portal("p1")
    keys = fleet.statuses("p1", 30)
    result = status_queue.push_records(records(("p1", "")))
    assert sorted(result.report.pushed) == sorted(keys) and not result.failures


def test_more_than_one_drain_brings_one_record_back_at_once(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(push, "DRAIN_LIMIT", 60)
    monkeypatch.setattr(push_turn, "PUSH_LINGER", 0.0)
    fleet.portal("p1")
    keys = fleet.statuses("p1", 100)
    result = status_queue.push_records(records(keys[0], keys[1]))
    assert len(result.report.pushed) == 60
    # a portal token at once (a record naming a pushed status would not drain the portal again)
    assert not result.failures and not fleet.delays and fleet.tokens == [{"p1": 0}]
    status_queue.push_records(records(("p1", "")))
    assert fleet.messages.index == {}


def test_a_portal_pushed_a_moment_ago_gets_only_full_batches_the_rest_waits_briefly(fleet: Fleet) -> None:
    """During a campaign statuses trickle in: a portal pushed less than PUSH_LINGER ago is not given
    a small batch; its records come back when that has passed (no back-off), then go in one call."""
    fleet.portal("p1")
    status_queue.push_records(records(*fleet.statuses("p1", 5)))  # idle: pushed at once
    assert fleet.batch_calls("p1") == 1
    trickle = fleet.statuses("p1", 30)
    result = status_queue.push_records(records(*trickle, ("p1", "")))
    assert result.report.calls == 0 and not result.report.failed and not result.failures and not fleet.delays
    # the 31 records are let go: one delayed token for the portal stands in for them
    [token] = fleet.tokens
    assert list(token) == ["p1"] and token["p1"] in {1, 2}
    more = fleet.statuses("p1", 25)  # 55 pending now, and the token is on its way: they wait for it
    result = status_queue.push_records(records(*more))
    assert [c[1] for c in fleet.portals["p1"].calls] == [5] and len(result.report.later) == 25
    fleet.limits.turns["p1"]["wake_at"] = 0.0  # no token on its way: a full batch goes, 5 wait
    result = status_queue.push_records(records(*more))
    assert [c[1] for c in fleet.portals["p1"].calls] == [5, 50] and len(result.report.later) == 5
    fleet.limits.turns["p1"]["last_push"] -= push_turn.PUSH_LINGER_MAX  # the portal is idle again
    result = status_queue.push_records(records(("p1", "")))  # the token comes back
    assert [c[1] for c in fleet.portals["p1"].calls] == [5, 50, 5] and fleet.messages.index == {}


def test_a_drain_in_flight_makes_the_portals_other_records_wait(fleet: Fleet) -> None:
    fleet.portal("p1")
    keys = fleet.statuses("p1", 3)
    fleet.limits.turns["p1"] = {"busy_until": time.time() + 5, "owner": "another push"}
    result = status_queue.push_records(records(*keys))
    assert result.report.calls == 0 and not result.failures and not result.report.failed
    assert fleet.tokens == [{"p1": 1}]


def test_a_drain_that_loses_the_race_for_the_turn_pushes_nothing(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both drains read the portal free; only the one whose conditional write takes the turn pushes."""
    fleet.portal("p1")
    keys = fleet.statuses("p1", 3)
    monkeypatch.setattr(fleet.limits, "take_push_turn", lambda member_id, owner, until: False)
    result = status_queue.push_records(records(*keys))
    assert fleet.portals["p1"].attempts == 0 and not result.failures
    assert fleet.tokens == [{"p1": 1}]


# -- isolation ----------------------------------------------------------------------------------
def test_while_a_token_is_on_its_way_the_portals_other_records_send_none(fleet: Fleet) -> None:
    """A campaign's receives during one linger cost one token, not one each; the token itself,
    when it has to wait again, sends the next one."""
    fleet.portal("p1")
    status_queue.push_records(records(*fleet.statuses("p1", 5)))  # idle: pushed at once, lingering now
    for _ in range(4):  # four receives during the linger
        status_queue.push_records(records(*fleet.statuses("p1", 3)))
    assert len(fleet.tokens) == 1 and fleet.limits.turns["p1"]["wake_at"] > time.time()
    fleet.limits.turns["p1"]["wake_at"] = time.time()  # the token is due, and the portal pushed again meanwhile
    result = status_queue.push_records(records(("p1", "")))
    assert len(fleet.tokens) == 2 and not result.failures
    fleet.limits.turns["p1"]["last_push"] -= push_turn.PUSH_LINGER_MAX  # idle again
    result = status_queue.push_records(records(("p1", "")))
    assert [c[1] for c in fleet.portals["p1"].calls] == [5, 12] and fleet.messages.index == {}


def test_a_token_that_must_wait_sends_none_when_a_later_one_is_due(fleet: Fleet) -> None:
    fleet.portal("p1")
    status_queue.push_records(records(*fleet.statuses("p1", 5)))  # pushed: the portal lingers
    fleet.statuses("p1", 3)
    fleet.limits.turns["p1"]["wake_at"] = time.time() + 1.5  # another token is due later
    status_queue.push_records(records(("p1", "")))
    assert fleet.tokens == []
    fleet.limits.turns["p1"]["wake_at"] = time.time()  # this token's own: it sends the next
    status_queue.push_records(records(("p1", "")))
    assert len(fleet.tokens) == 1


def test_a_record_that_a_token_on_its_way_covers_costs_no_query(fleet: Fleet) -> None:
    fleet.portal("p1")
    status_queue.push_records(records(*fleet.statuses("p1", 5)))  # pushed: the portal lingers now
    status_queue.push_records(records(*fleet.statuses("p1", 3)))  # waits: a token goes out
    queries = len(fleet.messages.index_queries)
    result = status_queue.push_records(records(*fleet.statuses("p1", 3)))
    assert len(fleet.messages.index_queries) == queries and len(fleet.tokens) == 1
    assert len(result.report.later) == 3 and not result.failures and not result.report.pushed


def test_waiting_records_come_back_themselves_when_the_token_cannot_be_queued(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(waits: Any) -> int:
        raise RuntimeError("SQS said no")

    monkeypatch.setattr(queues, "enqueue_portal_waits", refuse)
    fleet.portal("p1")
    keys = fleet.statuses("p1", 3)
    fleet.limits.turns["p1"] = {"busy_until": time.time() + 5, "owner": "another push"}
    result = status_queue.push_records(records(*keys))
    assert len(result.failures) == 3 and set(fleet.delays.values()) == {1}


def test_a_slow_and_a_down_portal_do_not_delay_a_healthy_one(fleet: Fleet) -> None:
    fleet.portal("healthy")
    fleet.portal("slow", "slow", delay=1.0)
    fleet.portal("down", "down")
    keys = fleet.statuses("slow", 20) + fleet.statuses("down", 20) + fleet.statuses("healthy", 20)
    started = time.monotonic()
    result = status_queue.push_records(records(*keys))
    elapsed = time.monotonic() - started
    [(_, _, _, healthy_done)] = fleet.portals["healthy"].calls
    [(_, _, _, slow_done)] = fleet.portals["slow"].calls
    assert healthy_done - started < 0.3  # it did not wait for the slow portal's second
    assert slow_done - started >= 1.0 and elapsed < 1.5
    assert len(result.report.pushed) == 40
    assert sorted(result.failures) == sorted(f"down/{m}" for _, m in keys if _ == "down")


def test_a_slow_portal_stops_at_its_budget(fleet: Fleet) -> None:
    fleet.portal("healthy")
    fleet.portal("slow", "slow", delay=0.6)
    slow = fleet.statuses("slow", 150)  # 3 calls of 0.6 s: more than a 1 s budget
    healthy = fleet.statuses("healthy", 5)
    started = time.monotonic()
    report = push.push(slow + healthy, deadline=time.monotonic() + 1.0)
    assert time.monotonic() - started < 1.3
    assert sorted(k for k in report.pushed if k[0] == "healthy") == sorted(healthy)
    assert 0 < len([k for k in report.pushed if k[0] == "slow"]) < 150
    assert sorted(report.failed) == sorted(k for k in slow if k not in report.pushed)


def test_a_portal_whose_budget_is_spent_is_not_called(fleet: Fleet) -> None:
    fleet.portal("p1")
    keys = fleet.statuses("p1", 3)
    report = push.push(keys, deadline=time.monotonic() - 0.01)
    assert fleet.portals["p1"].attempts == 0 and sorted(report.failed) == sorted(keys)
    assert "p1" in report.deferred_portals


def test_only_the_failing_portals_records_are_deferred_each_with_its_own_delay(fleet: Fleet) -> None:
    fleet.portal("healthy")
    fleet.portal("busy", "busy")
    fleet.portal("closed", "closed")
    healthy, busy, closed = fleet.statuses("healthy", 3), fleet.statuses("busy", 3), fleet.statuses("closed", 3)
    result = status_queue.push_records(records(*healthy, *busy, *closed, ("busy", "")))
    deferred = {rid.split("/")[0] for rid in result.failures}
    assert deferred == {"busy", "closed"} and len(result.failures) == 7  # the busy portal's token too
    assert all(seconds == 5 for handle, seconds in fleet.delays.items() if handle.startswith("rh-busy/"))
    assert all(500 < seconds <= 601 for handle, seconds in fleet.delays.items() if handle.startswith("rh-closed/"))
    assert not any(handle.startswith("rh-healthy/") for handle in fleet.delays)
    assert all(len(fleet.portals[p].calls) == 0 for p in ("busy", "closed"))  # one try each, no retries


def test_a_failing_portal_costs_one_request_however_many_statuses_it_has(fleet: Fleet) -> None:
    fleet.portal("down", "down")
    result = status_queue.push_records(records(*fleet.statuses("down", 120)))
    assert result.report.calls == 1 and len(result.failures) == 120


def test_portals_are_pushed_in_the_invocations_context(fleet: Fleet) -> None:
    """A local hook (IAM enforcement) may keep the running function in a context variable."""
    import contextvars

    running: contextvars.ContextVar[str] = contextvars.ContextVar("running", default="")
    seen: set[str] = set()
    real = FakeClient._request

    def request(self: FakeClient, method: str, commands: list[dict[str, str]]) -> None:
        seen.add(running.get())
        real(self, method, commands)

    FakeClient._request = request  # type: ignore[method-assign]
    try:
        fleet.portal("a")
        fleet.portal("b")
        token = running.set("PushFunction")
        push.push(fleet.statuses("a", 2) + fleet.statuses("b", 2))
        running.reset(token)
    finally:
        FakeClient._request = real  # type: ignore[method-assign]
    assert seen == {"PushFunction"}


# -- guarantees ---------------------------------------------------------------------------------
def test_never_pushed_twice_and_never_backwards(fleet: Fleet) -> None:
    fleet.portal("p1")
    keys = fleet.statuses("p1", 10)
    push.push(keys)
    again = push.push(keys + keys + [("p1", "")])  # duplicated records and a sweep's token, later
    assert fleet.batch_calls("p1") == 1 and again.pushed == [] and again.calls == 0
    assert all(seen == ["delivered"] for seen in fleet.portals["p1"].seen.values())
    assert all(fleet.messages.items[k].pushed_rank == bitrix_statuses.rank("delivered") for k in keys)


def test_two_racing_drains_of_a_portal_count_each_status_once(fleet: Fleet) -> None:
    fleet.portal("p1")
    keys = fleet.statuses("p1", 40)
    threads = [threading.Thread(target=push.push, args=([k],)) for k in keys[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [(counts)] = fleet.messages.day_counts.values()
    assert counts["sent"] == 40 and counts["delivered"] == 40
    assert fleet.messages.index == {}


def test_test_sms_are_not_counted(fleet: Fleet) -> None:
    fleet.portal("p1")
    fleet.messages.advance("p1", f"{push.TEST_PREFIX}1", "delivered")
    report = push.push([("p1", f"{push.TEST_PREFIX}1")])
    assert report.pushed == [("p1", f"{push.TEST_PREFIX}1")] and fleet.messages.day_counts == {}
    assert fleet.batch_calls("p1") == 0


# -- the fail-fast client -------------------------------------------------------------------------
class RefusingSession:
    def __init__(self) -> None:
        self.posts = 0

    def post(self, *args: Any, **kwargs: Any) -> Any:
        import requests

        self.posts += 1
        raise requests.ConnectionError("connection refused")


def test_the_push_client_does_not_retry_or_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PORTALS_TABLE", "MESSAGES_TABLE", "LIMITS_TABLE", "OUTBOUND_QUEUE_URL", "STATUS_QUEUE_URL"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("BITRIX_CLIENT_ID", "app")
    from b24sms.adapters.bitrix.tokens import client_for

    client = client_for(Portal("p1", "https://p1.example/rest/"), 1.0, fail_fast=True)
    assert client.max_retries == 0 and client.max_operating_wait == 0
    session, slept = RefusingSession(), list[float]()
    fast = BitrixClient(
        Portal("p1", "https://p1.example/rest/"),
        max_retries=client.max_retries,
        max_operating_wait=client.max_operating_wait,
        session=session,  # type: ignore[arg-type]
        sleep=slept.append,
    )
    started = time.monotonic()
    with pytest.raises(PortalUnavailable):
        fast.call(push.METHOD, {})
    assert session.posts == 1 and slept == [] and time.monotonic() - started < 0.1


def test_the_linger_is_a_setting() -> None:
    import os
    import subprocess
    import sys

    from local.template import ROOT

    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common"), "PUSH_LINGER": "0.5"}
    probe = "from b24sms.usecases import push_turn; print(push_turn.PUSH_LINGER)"
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0.5" and push_turn.PUSH_LINGER == 2.0  # the default here


def test_while_a_portals_statuses_keep_coming_it_lingers_longer_and_an_idle_one_is_pushed_at_once(fleet: Fleet) -> None:
    """A trickle (a campaign's reports) costs fewer and fewer calls: each push soon after the last
    doubles the portal's linger, up to PUSH_LINGER_MAX; a pause makes it idle again (domain/linger.py)."""
    fleet.portal("p1")
    status_queue.push_records(records(*fleet.statuses("p1", 1)))  # idle: at once
    assert fleet.limits.turns["p1"]["linger"] == push_turn.PUSH_LINGER
    fleet.limits.turns["p1"]["last_push"] -= push_turn.PUSH_LINGER + 0.5  # the next status, just after the linger
    fleet.limits.turns["p1"]["wake_at"] = 0.0
    status_queue.push_records(records(*fleet.statuses("p1", 1)))
    assert len(fleet.portals["p1"].calls) == 2 and fleet.limits.turns["p1"]["linger"] == 2 * push_turn.PUSH_LINGER
    fleet.limits.turns["p1"]["last_push"] -= push_turn.PUSH_LINGER + 0.5  # past the base linger, not the doubled one
    fleet.limits.turns["p1"]["wake_at"] = 0.0
    result = status_queue.push_records(records(*fleet.statuses("p1", 1)))
    assert len(fleet.portals["p1"].calls) == 2 and len(result.report.later) == 1  # it waits with what follows
    fleet.limits.turns["p1"]["last_push"] -= 4 * push_turn.PUSH_LINGER_MAX  # a pause: idle again
    fleet.limits.turns["p1"]["wake_at"] = 0.0
    status_queue.push_records(records(("p1", "")))
    assert len(fleet.portals["p1"].calls) == 3 and fleet.limits.turns["p1"]["linger"] == push_turn.PUSH_LINGER
