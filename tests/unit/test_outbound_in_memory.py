"""The outbound use cases (accept, dispatch, status_updates, and push at the end of the path) on the
in-memory stand-ins of local/memory/ (the tables, the queues, a carrier, the portals, a simulated
clock): what each guarantees, seen through their public functions and what lands in the tables, the
queues and the portal, in milliseconds and without moto, a server or a thread."""

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
    from b24sms.usecases import status_queue

    records = world.status.receive(100)
    failures = status_queue.push_records(records, 60).failures
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


# -- the whole path --------------------------------------------------------------------------------


def test_from_handover_to_the_portal_each_sms_is_sent_once_and_its_status_pushed_once(world: World):
    """The whole outbound path in memory: accept, dispatch, the carrier's report, the push. The push's
    own rules (batches of 50, coalescing, isolation, never twice) are tests/unit/test_push_fleet.py's."""
    ids = _accept(world, 5)
    _dispatch_all(world)
    _dispatch_all(world)  # nothing is left to send
    for message_id in ids:
        assert _deliver(world, PORTAL, message_id) != "stale"
    assert _push_all(world) == []
    assert len(world.carrier.sent) == 5
    assert _seen(world) == {message_id: ["delivered"] for message_id in ids}
    assert all(m.pushed_rank == m.status_rank for m in world.messages.items.values())
