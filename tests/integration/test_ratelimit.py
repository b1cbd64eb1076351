"""The shared token bucket (LimitsTable in moto's DynamoDB): however many callers, never more than
burst + rate x elapsed tokens."""

from __future__ import annotations

import threading
import time

import pytest

from b24sms.adapters.store.limits import TokenBucket
from b24sms.domain.errors import Throttled
from local.stack import LocalStack


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_burst_then_rate(stack: LocalStack):
    clock = FakeClock()
    bucket = TokenBucket("test#burst", rate=2, burst=3, max_wait=0, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        bucket.acquire()
    with pytest.raises(Throttled) as info:
        bucket.acquire()
    assert info.value.retry_after == pytest.approx(0.5, abs=0.01)
    clock.now += 0.5
    bucket.acquire()


def test_less_than_one_token_is_not_a_token(stack: LocalStack):
    clock = FakeClock()
    bucket = TokenBucket("test#fraction", rate=2, burst=1, max_wait=0, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    clock.now += 0.25  # half a token has come back
    with pytest.raises(Throttled) as info:
        bucket.acquire()
    assert info.value.retry_after == pytest.approx(0.25, abs=0.01)
    clock.now += 0.25
    bucket.acquire()


def test_waits_for_a_token_within_max_wait(stack: LocalStack):
    clock = FakeClock()
    bucket = TokenBucket("test#wait", rate=4, burst=1, max_wait=1, clock=clock, sleep=clock.sleep)
    start = clock.now
    for _ in range(4):
        bucket.acquire()
    assert clock.now - start == pytest.approx(0.75, abs=0.01)


def test_concurrent_callers_share_one_budget(stack: LocalStack):
    rate, burst, callers, each = 10.0, 5.0, 6, 3
    taken: list[float] = []
    lock = threading.Lock()
    start = time.monotonic()

    def caller() -> None:
        bucket = TokenBucket("test#shared", rate=rate, burst=burst, max_wait=30)
        for _ in range(each):
            bucket.acquire()
            with lock:
                taken.append(time.monotonic() - start)

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == callers * each
    # At no moment did the callers together get more than the bucket allows (small slack for clocks).
    for i, at in enumerate(sorted(taken)):
        assert i + 1 <= burst + rate * at + 1.01
    assert max(taken) >= (callers * each - burst) / rate - 0.2


def test_one_drain_of_a_portal_holds_its_push_turn_at_a_time(stack: LocalStack):
    from b24sms.adapters.store import limits

    member = f"turn-{time.monotonic_ns()}"
    assert limits.push_turn(member) == (0.0, 0.0, 0.0, 0.0)
    assert limits.take_push_turn(member, "first", time.time() + 10)
    assert not limits.take_push_turn(member, "second", time.time() + 10)  # held
    assert limits.push_turn(member).busy_until > time.time()
    limits.set_push_wake(member, 1234.5)  # a delayed portal token is on its way (status_queue.py)
    assert limits.push_turn(member).wake_at == 1234.5
    limits.end_push_turn(member, "second", pushed=True)  # not its turn: changes nothing
    assert limits.push_turn(member).last_push == 0.0
    limits.end_push_turn(member, "first", pushed=True, linger=4.0)
    turn = limits.push_turn(member)
    assert turn.busy_until == 0.0 and abs(turn.last_push - time.time()) < 5 and turn.linger == 4.0
    assert limits.take_push_turn(member, "second", time.time() - 1)  # free again; and a turn past its time…
    assert limits.take_push_turn(member, "third", time.time() + 10)  # …is taken over
