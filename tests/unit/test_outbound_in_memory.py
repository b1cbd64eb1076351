"""The outbound use cases — accept, dispatch, status_updates, push — on the in-memory stand-ins of
local/memory/ (the tables, the queues, a carrier, the portals, a simulated clock): what each guarantees,
seen through their public functions and what lands in the tables, the queues and the portal, in
milliseconds and without moto, a server or a thread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.memory.world import World

PORTAL = "p-unit"


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.add_portal(PORTAL)
    with w.installed():
        yield w


def _accept(world: World, n: int, member_id: str = PORTAL, to: str = "+79161234567") -> list[str]:
    from b24sms.usecases import accept

    portal = accept.authenticate_handler({"portal": member_id, "key": f"k-{member_id}"})
    ids = [f"m{i}" for i in range(n)]
    for message_id in ids:
        accept.accept(portal, accept.OutgoingSms(message_id, to, "Your order is ready", "b24sms"))
    return ids


def _dispatch_all(world: World) -> list[Any]:
    """DispatchFunction over what the outbound queue holds now: each record once, as the trigger would."""
    from b24sms.adapters import queues
    from b24sms.usecases import dispatch

    results: list[Any] = []
    for record in world.outbound.receive(100):
        try:
            results.append(dispatch.dispatch(*queues.parse_body(record["body"])))
        except dispatch.RetryLater as exc:  # the function hands the record back with the delay
            queues.delay_redelivery(record["eventSourceARN"], record["receiptHandle"], exc.delay)
            results.append(exc)
            continue
        world.outbound.delete(record["receiptHandle"])
    return results


def _deliver(world: World, member_id: str, message_id: str, status: str = "delivered") -> str:
    from b24sms.adapters.carriers.base import StatusReport
    from b24sms.usecases import status_updates

    message = world.messages.get_message(member_id, message_id)
    assert message is not None
    report = StatusReport(message.carrier_message_id, status.upper(), status, message_key=f"{member_id}.{message_id}")
    return status_updates.apply_report(world.carrier.name, report)


def _push_all(world: World) -> list[str]:
    """PushFunction over what the status queue holds now; returns the records handed back."""
    from b24sms.usecases import push

    records = world.status.receive(100)
    failures = push.push_records(records, 60).failures
    for record in records:
        if record["messageId"] not in failures:
            world.status.delete(record["receiptHandle"])
    return failures


def _seen(world: World, member_id: str = PORTAL) -> dict[str, list[str]]:
    return {mid: [status for status, _ in seen] for mid, seen in world.sim_portals[member_id].seen.items()}


# -- dispatch --------------------------------------------------------------------------------------


def test_a_message_is_sent_once_however_often_its_queue_message_comes(world: World):
    from b24sms.usecases import dispatch

    [message_id] = _accept(world, 1)
    [result] = _dispatch_all(world)
    assert result.outcome == "sent" and len(world.carrier.sent) == 1
    for _ in range(3):  # a redelivered or duplicated queue message
        assert dispatch.dispatch(PORTAL, message_id).outcome == "skipped"
    assert len(world.carrier.sent) == 1
    stored = world.messages.get_message(PORTAL, message_id)
    assert stored is not None and stored.dispatch_state == "sent" and stored.carrier_message_id == "c1"


def test_a_transient_carrier_error_is_retried_later_and_then_sent(world: World):
    from b24sms.adapters.carriers import TransientCarrierError

    world.carrier.fail_with.append(TransientCarrierError("HTTP_503", "busy"))
    _accept(world, 1)
    [retry] = _dispatch_all(world)
    assert retry.delay >= 1 and world.carrier.sent == []
    world.clock.base += retry.delay + 1  # the redelivery
    [result] = _dispatch_all(world)
    assert result.outcome == "sent" and len(world.carrier.sent) == 1


def test_a_send_whose_outcome_is_unknown_is_never_sent_again(world: World):
    from b24sms.adapters.carriers import CarrierOutcomeUnknown
    from b24sms.usecases import dispatch

    world.carrier.fail_with.append(CarrierOutcomeUnknown("READ_TIMEOUT", "no answer"))
    [message_id] = _accept(world, 1)
    [result] = _dispatch_all(world)
    assert result.outcome == "unknown"
    world.clock.base += 3600  # long after the grace: failed, not sent
    assert dispatch.dispatch(PORTAL, message_id).outcome == "failed"
    assert world.carrier.sent == []
    stored = world.messages.get_message(PORTAL, message_id)
    assert stored is not None and stored.status == "failed" and stored.error_code == "DISPATCH_INTERRUPTED"


def test_an_opted_out_recipient_is_not_sent_to_and_the_portal_hears_failed(world: World):
    world.chats.opt_out(PORTAL, "+79161234567", "STOP")
    [message_id] = _accept(world, 1)
    [result] = _dispatch_all(world)
    assert result.outcome == "failed" and result.detail == "OPTED_OUT" and world.carrier.sent == []
    assert _push_all(world) == []
    assert _seen(world) == {message_id: ["failed"]}


# -- status_updates --------------------------------------------------------------------------------


def test_statuses_only_move_forward(world: World):
    [message_id] = _accept(world, 1)
    _dispatch_all(world)
    assert _deliver(world, PORTAL, message_id, "delivered") != "stale"
    assert _deliver(world, PORTAL, message_id, "undelivered") == "stale"  # the first final status wins
    stored = world.messages.get_message(PORTAL, message_id)
    assert stored is not None and stored.status == "delivered"


def test_a_report_for_no_message_of_ours_changes_nothing(world: World):
    from b24sms.adapters.carriers.base import StatusReport
    from b24sms.usecases import status_updates

    before = len(world.status)
    report = StatusReport("c-nobody", "DELIVRD", "delivered", message_key=f"{PORTAL}.nope")
    assert status_updates.apply_report(world.carrier.name, report) == "unknown"
    assert len(world.status) == before


# -- push ------------------------------------------------------------------------------------------


def test_each_status_reaches_the_portal_once_in_one_batch_call(world: World):
    ids = _accept(world, 20)
    _dispatch_all(world)
    for message_id in ids:
        _deliver(world, PORTAL, message_id)
    assert _push_all(world) == []
    assert _seen(world) == {message_id: ["delivered"] for message_id in ids}
    assert world.sim_portals[PORTAL].requests == 1  # 20 statuses, one `batch` call
    for message_id in ids:  # a stale or re-driven record pushes nothing again
        _deliver(world, PORTAL, message_id)
    world.status.send(f'{{"member_id":"{PORTAL}","message_id":"{ids[0]}"}}')
    world.clock.base += 10
    _push_all(world)
    assert _seen(world) == {message_id: ["delivered"] for message_id in ids}
    assert all(m.pushed_rank == m.status_rank for m in world.messages.items.values())


def test_more_than_50_statuses_go_in_batches_of_50(world: World):
    ids = _accept(world, 120)
    _dispatch_all(world)
    for message_id in ids:
        _deliver(world, PORTAL, message_id)
    assert _push_all(world) == []
    assert len(_seen(world)) == 120 and world.sim_portals[PORTAL].requests == 3


def test_a_down_portal_defers_only_its_own_statuses(world: World):
    world.add_portal("p-down", mode="down", down_until=10**9)
    ok = _accept(world, 3)
    down = _accept(world, 3, member_id="p-down")
    _dispatch_all(world)
    for message_id in ok:
        _deliver(world, PORTAL, message_id)
    for message_id in down:
        _deliver(world, "p-down", message_id)
    failures = _push_all(world)
    assert failures  # the down portal's records come back later
    assert _seen(world) == {message_id: ["delivered"] for message_id in ok}
    assert world.sim_portals["p-down"].requests == 1  # one refused request, not one per status
    pending = [m for m in world.messages.items.values() if m.member_id == "p-down"]
    assert pending and all(m.pushed_rank < m.status_rank for m in pending)  # kept, not lost
