"""Issue #18 item 4, the push's read: the status route's record carries a final status (its rank and
when it was written), so the push does not BatchGetItem the message: it pushes it from the portal's
index entry (``by-push-pending``). Every guarantee holds: a status an earlier drain pushed is not
pushed again from a stale record (gone from the index a while after it was written: done), one the
index does not hold yet waits for a portal token (never lost), and what the record does not vouch
for (no final, out of bounds, an Open Lines reply, the recovery sweep's record) is read as before.
On the in-memory stand-ins (local/memory), which count requests and what the portal saw."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest

from b24sms.adapters import queues
from b24sms.adapters.carriers.base import StatusReport
from b24sms.domain import bitrix_statuses
from b24sms.domain.models import Message
from b24sms.usecases import accept, dispatch, push, push_turn, status_queue, status_updates
from local.memory.world import World

PORTAL = "p-reads"


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.add_portal(PORTAL)
    with w.installed():
        yield w


def _sent(world: World, n: int, start: int = 0) -> list[str]:
    portal = accept.authenticate_handler({"portal": PORTAL, "key": f"k-{PORTAL}"})
    ids = [f"m{i}" for i in range(start, start + n)]
    for message_id in ids:
        accept.accept(portal, accept.OutgoingSms(message_id, "+79161234567", "Your order is ready", "b24sms"))
    for record in world.outbound.receive(100):
        dispatch.dispatch(*queues.parse_body(record["body"]))
        world.outbound.delete(record["receiptHandle"])
    return ids


def _deliver(world: World, message_id: str, status: str = "delivered") -> str:
    message = world.messages.get_message(PORTAL, message_id)
    assert message is not None
    report = StatusReport(message.carrier_message_id, status.upper(), status, message_key=f"{PORTAL}.{message_id}")
    return status_updates.apply_report(world.carrier.name, report)


def _push(world: World, limit: int = 100) -> list[str]:
    records = world.status.receive(limit)
    failures = status_queue.push_records(records, 60).failures
    for record in records:
        if record["messageId"] not in failures:
            world.status.delete(record["receiptHandle"])
    return failures


def _seen(world: World) -> dict[str, list[str]]:
    return {mid: [status for status, _ in seen] for mid, seen in world.sim_portals[PORTAL].seen.items()}


def _batch_gets(world: World) -> int:
    return world.meter.requests["messages.BatchGetItem"]


def test_a_final_status_is_pushed_with_no_read_of_its_message(world: World) -> None:
    ids = _sent(world, 3)
    for message_id in ids:
        assert _deliver(world, message_id) == "advanced"
    body = json.loads(world.status.receive(1)[0]["body"])
    assert body["final"][0] == bitrix_statuses.rank("delivered")
    assert set(body) == {"member_id", "message_id", "final"}  # no text, no number
    world.clock.base += 60  # (the record received above comes back)
    assert _push(world) == []
    assert _seen(world) == {message_id: ["delivered"] for message_id in ids}
    assert _batch_gets(world) == 0  # before: one BatchGetItem for the records' messages


def test_a_record_whose_status_an_earlier_drain_pushed_pushes_nothing_again(world: World) -> None:
    first, second = _sent(world, 2)
    _deliver(world, first)
    _deliver(world, second)
    [one, other] = world.status.receive(2)
    assert status_queue.push_records([one], 60).failures == []  # its drain takes both from the index
    world.status.delete(one["receiptHandle"])
    assert _seen(world) == {first: ["delivered"], second: ["delivered"]}
    world.clock.base += push.INDEX_LAG + push_turn.PUSH_LINGER + 1  # the second record comes later
    assert status_queue.push_records([other], 60).failures == []
    assert _seen(world) == {first: ["delivered"], second: ["delivered"]}  # not pushed twice
    assert _batch_gets(world) == 0


def test_a_record_right_after_its_push_waits_for_a_token_instead_of_pushing_again(world: World) -> None:
    first, second = _sent(world, 2)
    _deliver(world, first)
    _deliver(world, second)
    [one, other] = world.status.receive(2)
    status_queue.push_records([one], 60)
    world.status.delete(one["receiptHandle"])
    result = status_queue.push_records([other], 60)  # within INDEX_LAG of its write: it cannot tell
    assert result.failures == [] and (PORTAL, second) in result.report.later
    world.status.delete(other["receiptHandle"])
    world.clock.base += 5  # the portal token comes back and finds nothing left
    assert _push(world) == []
    assert _seen(world) == {first: ["delivered"], second: ["delivered"]}


def test_a_status_the_index_does_not_hold_yet_waits_and_is_not_lost(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    [message_id] = _sent(world, 1)
    _deliver(world, message_id)
    real = world.messages.pending_for_portal
    # The first Query does not see the status yet (the index is eventually consistent).
    lagging: Iterator[tuple[list[Message], bool]] = iter([([], False)])
    monkeypatch.setattr(
        world.messages, "pending_for_portal", lambda member_id, limit=500: next(lagging, None) or real(member_id, limit)
    )
    assert _push(world) == []
    assert _seen(world) == {}
    world.clock.base += 5  # the portal token it left
    assert _push(world) == []
    assert _seen(world) == {message_id: ["delivered"]}


@pytest.mark.parametrize(
    "body",
    [
        '{"member_id":"p-reads","message_id":"m0"}',  # the recovery sweep's record, a status that may move
        '{"member_id":"p-reads","message_id":"m0","final":["2",1800000000]}',
        '{"member_id":"p-reads","message_id":"m0","final":[500,1800000000]}',
        '{"member_id":"p-reads","message_id":"m0","final":[2,NaN]}',
        '{"member_id":"p-reads","message_id":"m0","final":[2]}',
        '{"member_id":"p-reads","message_id":"m0","final":{"r":2}}',
    ],
)
def test_a_record_that_does_not_carry_a_final_status_in_bounds_is_read(world: World, body: str) -> None:
    [message_id] = _sent(world, 1)
    _deliver(world, message_id)
    [own] = world.status.receive(1)
    world.status.delete(own["receiptHandle"])  # the route's own record: gone
    world.status.send(body)
    _push(world)
    assert _batch_gets(world) == 1
    assert _seen(world) == {message_id: ["delivered"]}


def test_an_open_lines_reply_and_a_status_that_may_move_are_read(world: World) -> None:
    [message_id] = _sent(world, 1)
    message = world.messages.items[(PORTAL, message_id)]
    world.messages.items[(PORTAL, message_id)] = replace(message, code="openlines")
    _deliver(world, message_id)
    assert "final" not in json.loads(world.status.receive(1)[0]["body"])
