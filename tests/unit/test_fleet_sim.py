"""The fleet simulation's pieces (local/memory/, `make bench-fleet`): the simulated clock and event loop,
SQS's semantics, Bitrix24's bucket, the store's conditional writes and sparse index, and a small fleet
run of the real use cases end to end. Each test fails when the piece it names is broken."""

from __future__ import annotations

import pytest

from b24sms.domain import bitrix_statuses
from b24sms.domain.models import Message
from bench import fleet_sim
from local.memory.clock import EPOCH, EventLoop, SimClock, SimExecutor
from local.memory.portal import Bucket, SimPortal, SimSession
from local.memory.sqs import SimQueue
from local.memory.store import Meter, SimLimits, SimMessages


# -- the clock ------------------------------------------------------------------------------------
def test_sleeping_advances_only_the_unit_of_work_that_sleeps():
    clock = SimClock()
    clock.base = 100.0

    def work() -> float:
        clock.sleep(2.5)
        return clock.monotonic()

    seen, took = clock.run(work)
    assert seen == 102.5 and took == 2.5
    assert clock.monotonic() == 100.0 and clock.time() == EPOCH + 100.0  # the loop's time did not move


def test_parallel_drains_each_see_their_own_clock_and_the_caller_waits_for_the_last():
    clock = SimClock()
    ends: list[float] = []

    def drain(seconds: float) -> None:
        clock.sleep(seconds)
        ends.append(clock.monotonic())

    def invocation() -> None:
        with SimExecutor(max_workers=2) as pool:
            for seconds in (1.0, 3.0, 1.0):
                pool.submit(drain, seconds)

    _, took = clock.run(invocation)
    assert ends == [1.0, 3.0, 2.0]  # the third waited for the first worker to be free
    assert took == 3.0


def test_an_executors_failed_drain_raises_at_result():
    clock = SimClock()

    def boom() -> None:
        raise RuntimeError("portal")

    with SimExecutor(1) as pool:
        future = pool.submit(boom)
    with pytest.raises(RuntimeError):
        future.result()
    assert clock.monotonic() == 0.0


def test_the_event_loop_runs_callbacks_in_time_order_ties_in_order_scheduled():
    clock = SimClock()
    loop = EventLoop(clock)
    seen: list[tuple[str, float]] = []
    loop.at(5.0, lambda: seen.append(("b", clock.base)))
    loop.at(1.0, lambda: seen.append(("a", clock.base)))
    loop.at(5.0, lambda: seen.append(("c", clock.base)))
    loop.at(1.0, lambda: loop.after(10.0, lambda: seen.append(("d", clock.base))))
    loop.run()
    assert seen == [("a", 1.0), ("b", 5.0), ("c", 5.0), ("d", 11.0)]


# -- SQS --------------------------------------------------------------------------------------------
def queue(clock: SimClock, visibility: float = 30.0, max_receives: int = 3) -> SimQueue:
    return SimQueue("q", clock, visibility, max_receives)


def test_a_received_message_is_invisible_until_its_visibility_timeout():
    clock = SimClock()
    q = queue(clock)
    q.send("m")
    [record] = q.receive(10)
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert q.receive(10) == [] and q.in_flight_now() == 1
    clock.base = 29.9
    assert q.receive(10) == []
    clock.base = 30.0
    [again] = q.receive(10)
    assert again["attributes"]["ApproximateReceiveCount"] == "2"


def test_change_message_visibility_sets_when_it_comes_back_and_it_stays_in_flight_meanwhile():
    clock = SimClock()
    q = queue(clock)
    q.send("m")
    [record] = q.receive(10)
    q.change_visibility(record["receiptHandle"], 600)
    clock.base = 300.0
    assert q.receive(10) == [] and q.in_flight_now() == 1
    clock.base = 600.0
    assert len(q.receive(10)) == 1
    q.change_visibility(q.messages[record["messageId"]].handle, 0)
    assert len(q.receive(10)) == 1  # visible again at once


def test_a_deleted_message_never_comes_back_and_an_old_receipt_handle_deletes_nothing():
    clock = SimClock()
    q = queue(clock, visibility=1.0)
    q.send("m")
    [first] = q.receive(1)
    clock.base = 1.0
    [second] = q.receive(1)
    q.delete(first["receiptHandle"])  # stale: received again since
    assert len(q) == 1
    q.delete(second["receiptHandle"])
    clock.base = 100.0
    assert len(q) == 0 and q.receive(1) == [] and q.in_flight_now() == 0


def test_a_message_received_max_receives_times_goes_to_the_dead_letter_queue():
    clock = SimClock()
    q = queue(clock, visibility=1.0, max_receives=3)
    q.send("m")
    for n in range(3):
        clock.base = float(n)
        assert len(q.receive(1)) == 1
    clock.base = 3.0
    assert q.receive(1) == [] and len(q.dlq) == 1 and len(q) == 0


def test_send_with_a_delay_and_batch_size():
    clock = SimClock()
    q = queue(clock)
    for n in range(25):
        q.send(str(n))
    q.send("late", delay=10)
    assert [len(q.receive(10)) for _ in range(4)] == [10, 10, 5, 0]
    clock.base = 10.0
    assert [r["body"] for r in q.receive(10)] == ["late"]


# -- Bitrix24's bucket and ours -----------------------------------------------------------------------
def test_a_portals_bucket_takes_a_burst_of_50_then_2_a_second():
    clock = SimClock()
    bucket = Bucket(clock)
    assert all(bucket.take() for _ in range(50))
    assert not bucket.take()
    clock.base = 0.49
    assert not bucket.take()
    clock.base = 0.5
    assert bucket.take() and not bucket.take()
    clock.base = 100.0
    assert sum(bucket.take() for _ in range(60)) == 50  # refills to the burst, no more


def test_our_token_bucket_waits_within_max_wait_else_refuses():
    clock = SimClock()
    limits = SimLimits(Meter(clock, 0.0))
    assert all(limits.acquire("b", "p", 2.0, 3.0, 0.0) for _ in range(3))
    assert not limits.acquire("b", "p", 2.0, 3.0, 0.1)  # the next token is 0.5 s away

    def wait() -> bool:
        return limits.acquire("b", "p", 2.0, 3.0, 1.0)

    ok, took = clock.run(wait)
    assert ok and took == pytest.approx(0.5)


def test_our_bucket_never_moves_its_clock_back_so_no_refill_is_counted_twice():
    # Invocations run whole, each on its own clock: a take at 5 s may be run after one at 10 s.
    clock = SimClock()
    limits = SimLimits(Meter(clock, 0.0))

    def take_at(seconds: float) -> bool:
        return bool(clock.run(lambda: limits.acquire("b", "p", 1.0, 2.0, 0.0), start=seconds)[0])

    assert take_at(10.0) and take_at(5.0)  # the burst of 2, the second one run later but timed earlier
    assert take_at(10.5) is False  # refilled from 10 s (half a token), not again from 5 s
    assert take_at(11.0)


def test_a_portals_calls_out_of_time_order_are_counted():
    # The portal's bucket judges calls in the order they are run; the simulation must show none ran
    # out of time order, or its QUERY_LIMIT_EXCEEDED count would not be the truth.
    clock = SimClock()
    portal = SimPortal("p", Bucket(clock))
    session = SimSession(portal, clock)

    def call_at(seconds: float) -> None:
        clock.run(lambda: session.post("https://p/rest/x.json", b"", {}, (1.0, 5.0)), start=seconds)

    call_at(3.0)
    call_at(4.0)
    assert portal.out_of_order == 0
    call_at(2.0)
    assert portal.out_of_order == 1


# -- the store ------------------------------------------------------------------------------------------
def test_a_push_turn_is_busy_for_a_drain_run_later_but_starting_before_the_turn_ended():
    # Drain A (0 s to 5 s) is run first, whole; drain B starts at 1 s of simulated time: in AWS it
    # would find the portal busy, so here too. Ending the turn must not let B in before 5 s.
    clock = SimClock()
    limits = SimLimits(Meter(clock, 0.0))

    def drain_a() -> None:
        assert limits.take_push_turn("p", "a", clock.time() + 60.0)
        clock.sleep(5.0)
        limits.end_push_turn("p", "a", pushed=True)

    clock.run(drain_a)
    assert clock.run(lambda: limits.take_push_turn("p", "b", clock.time() + 60.0), start=1.0)[0] is False
    assert clock.run(lambda: limits.push_turn("p").busy_until > clock.time(), start=1.0)[0]
    assert clock.run(lambda: limits.take_push_turn("p", "c", clock.time() + 60.0), start=5.5)[0]


def test_a_status_is_in_the_pending_index_until_mark_pushed_catches_up_and_only_moves_forward():
    clock = SimClock()
    messages = SimMessages(Meter(clock, 0.0))
    assert messages.create_message(Message("p", "m1"))
    assert messages.meter.wru["messages"] == 3  # the item, by-pending and by-portal-log (the page's log)
    assert not messages.create_message(Message("p", "m1"))  # conditional: once
    assert messages.meter.wru["messages"] == 4  # a failed put: its write unit, no index entry
    delivered = bitrix_statuses.rank(bitrix_statuses.DELIVERED)
    assert messages.advance_status("p", "m1", bitrix_statuses.DELIVERED, delivered, source="t") is not None
    assert messages.advance_status("p", "m1", bitrix_statuses.DELIVERED, delivered, source="t") is None  # not forward
    assert [m.message_id for m in messages.pending_for_portal("p")[0]] == ["m1"]
    assert messages.mark_pushed("p", "m1", delivered)
    assert not messages.mark_pushed("p", "m1", delivered)  # a racing push lost
    assert messages.pending_for_portal("p") == ([], False)


# -- the real use cases on a small fleet ----------------------------------------------------------------
def test_a_small_fleet_with_a_slow_and_a_down_portal_loses_nothing_and_pushes_each_status_once():
    cfg = fleet_sim.Config(
        portals=40, seed=3, max_campaign=300, spread=60.0, slow_share=0.05, down_share=0.05, down_seconds=300.0
    )
    sim = fleet_sim.Simulation(cfg)
    sim.run()
    figures = sim.figures("test", 0.0)
    assert figures.portals == {"healthy": 36, "slow": 2, "down": 2}
    assert figures.sms > 40 and figures.statuses_pushed == figures.sms
    assert figures.lost == 0 and figures.duplicated == 0 and figures.query_limit_exceeded == 0
    assert figures.calls_out_of_time_order == 0  # else the bucket's verdicts above are not the truth
    assert figures.rest_calls_per_status_healthy < 0.5
    assert figures.latency_faulty["down"]["p50"] > 250  # held back while its portal was down
    assert figures.invocations_per_sms["HandlerFunction"] == 1.0
