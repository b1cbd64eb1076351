"""Fault injection on the local stack. Each test ends by checking every message the portal sent:
exactly one SMS went to the carrier (or none, where none may), the right final status, none missing."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from b24sms.adapters import store
from b24sms.adapters.carriers import CarrierOutcomeUnknown, CarrierThrottled, OutboundSms, SendResult, TransientCarrierError
from b24sms.adapters.carriers.sandbox import SandboxCarrier
from b24sms.domain.models import Message
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status

REAL_SEND = SandboxCarrier.send


def sends(portal: EmulatedPortal, message_id: str) -> int:
    return sum(1 for key, _ in SandboxCarrier.outbox if key == f"{portal.member_id}.{message_id}")


def settle(portal: EmulatedPortal, expected: dict[str, tuple[str, int]], timeout: float = 40.0) -> None:
    """Every message ends with its status, sent the given number of times; the portal never saw a
    status go backwards."""
    for message_id, (status, sent) in expected.items():
        assert final_status(portal, message_id, timeout) == status, (message_id, portal.timeline(message_id))
        assert sends(portal, message_id) == sent, message_id
        assert portal.timeline(message_id)[0] == "sent" and portal.timeline(message_id).count(status) == 1


@pytest.fixture
def carrier(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[..., SendResult]], None]]:
    """Replace the sandbox's send with a faulty one (it can call REAL_SEND to really 'send')."""

    def install(fake: Callable[..., SendResult]) -> None:
        monkeypatch.setattr(SandboxCarrier, "send", fake)

    yield install


def test_portal_answers_503_for_a_while(portal: EmulatedPortal, emulator: PortalEmulator):
    # The push does not retry inline (a portal's trouble must not hold a shared Lambda): each 503
    # defers the portal's records, which come back after the queue's back-off (1, 2, 4 s … here).
    portal.fail_next(4, 503, "INTERNAL_SERVER_ERROR")
    ids = [emulator.send_sms(portal, f"+1555010{i:03d}7", "hello")[0] for i in range(3)]
    settle(portal, {m: ("delivered", 1) for m in ids})
    assert not portal.failures


def test_portal_down_then_back(portal: EmulatedPortal, emulator: PortalEmulator):
    portal.down = True
    ids = [emulator.send_sms(portal, f"+1555020{i:03d}7", "hello")[0] for i in range(5)]
    time.sleep(3)
    assert all(portal.timeline(m) == ["sent"] for m in ids)  # nothing lands while it is down…
    assert all(store.messages.get_message(portal.member_id, m).status == "delivered" for m in ids)  # type: ignore[union-attr]
    portal.down = False
    settle(portal, {m: ("delivered", 1) for m in ids})  # …and everything does once it is back


def test_token_expires_in_the_middle_of_a_burst(portal: EmulatedPortal, emulator: PortalEmulator):
    before = portal.refreshes
    ids = []
    for i in range(20):
        if i == 10:
            portal.expire_tokens()
        ids.append(emulator.send_sms(portal, f"+1555030{i:03d}7", "burst", with_auth=False)[0])
    settle(portal, {m: ("delivered", 1) for m in ids})
    assert portal.refreshes == before + 1


def test_carrier_errors_are_retried_and_sent_once(portal: EmulatedPortal, emulator: PortalEmulator, carrier):
    failures = {"left": 2}

    def flaky(self: SandboxCarrier, sms: OutboundSms) -> SendResult:
        if failures["left"]:
            failures["left"] -= 1
            raise TransientCarrierError("HTTP_503", "carrier unavailable")
        return REAL_SEND(self, sms)

    carrier(flaky)
    message_id, _ = emulator.send_sms(portal, "+15550400001", "retry me")
    settle(portal, {message_id: ("delivered", 1)})
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.attempts == 3


def test_carrier_throttling_slows_down_without_using_attempts(portal: EmulatedPortal, emulator: PortalEmulator, carrier):
    throttles = {"left": 3}

    def busy(self: SandboxCarrier, sms: OutboundSms) -> SendResult:
        if throttles["left"]:
            throttles["left"] -= 1
            raise CarrierThrottled("HTTP_429", "too many requests", retry_after=1)
        return REAL_SEND(self, sms)

    carrier(busy)
    message_id, _ = emulator.send_sms(portal, "+15550400002", "slow down")
    settle(portal, {message_id: ("delivered", 1)})
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.attempts == 1


def test_carrier_errors_past_the_last_attempt_fail_the_message(
    portal: EmulatedPortal, emulator: PortalEmulator, carrier, monkeypatch: pytest.MonkeyPatch
):
    from b24sms.adapters import config

    monkeypatch.setenv("DISPATCH_MAX_ATTEMPTS", "2")
    config.reset_settings()

    def down(self: SandboxCarrier, sms: OutboundSms) -> SendResult:
        raise TransientCarrierError("HTTP_502", "bad gateway")

    carrier(down)
    try:
        message_id, _ = emulator.send_sms(portal, "+15550400003", "never")
        settle(portal, {message_id: ("failed", 0)})
    finally:
        monkeypatch.delenv("DISPATCH_MAX_ATTEMPTS")
        config.reset_settings()
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.attempts == 2 and "gave up after 2 attempts" in stored.error_message


def test_carrier_times_out_after_accepting(portal: EmulatedPortal, emulator: PortalEmulator, carrier):
    def accepts_then_times_out(self: SandboxCarrier, sms: OutboundSms) -> SendResult:
        REAL_SEND(self, sms)  # the carrier took it (and will report delivery)…
        raise CarrierOutcomeUnknown("READ_TIMEOUT", "no answer from the carrier")  # …but we never heard back

    carrier(accepts_then_times_out)
    message_id, _ = emulator.send_sms(portal, "+15550400004", "only once")
    settle(portal, {message_id: ("delivered", 1)})
    time.sleep(3)  # past the grace period: the late check must not fail or re-send it
    settle(portal, {message_id: ("delivered", 1)})


def test_carrier_times_out_and_never_reports(portal: EmulatedPortal, emulator: PortalEmulator, carrier):
    def silent(self: SandboxCarrier, sms: OutboundSms) -> SendResult:
        raise CarrierOutcomeUnknown("READ_TIMEOUT", "no answer from the carrier")

    carrier(silent)
    message_id, _ = emulator.send_sms(portal, "+15550400005", "lost in the carrier")
    settle(portal, {message_id: ("failed", 0)})
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "DISPATCH_INTERRUPTED" and stored.attempts == 1


def test_callbacks_twice_and_out_of_order(portal: EmulatedPortal, emulator: PortalEmulator, carrier):
    def scrambled(self: SandboxCarrier, sms: OutboundSms) -> SendResult:
        carrier_id = f"SBX-scrambled-{sms.key}"
        SandboxCarrier.outbox.append((sms.key, carrier_id))
        for status in ("delivered", "sent", "delivered", "sent", "undelivered"):
            self._callback(sms, carrier_id, status)
        return SendResult(carrier_id, "accepted")

    carrier(scrambled)
    ids = [emulator.send_sms(portal, f"+1555050{i:03d}7", "scrambled")[0] for i in range(3)]
    settle(portal, {m: ("delivered", 1) for m in ids})
    assert all(portal.timeline(m) == ["sent", "delivered"] for m in ids)


def test_function_killed_between_carrier_accept_and_our_record(
    portal: EmulatedPortal, emulator: PortalEmulator, monkeypatch: pytest.MonkeyPatch
):
    real_record = store.messages.record_carrier_accepted
    killed: list[str] = []

    def dies_once(*args: Any, **kwargs: Any) -> None:
        if not killed:
            killed.append("x")
            raise RuntimeError("Lambda timed out / was killed here")
        real_record(*args, **kwargs)

    monkeypatch.setattr(store.messages, "record_carrier_accepted", dies_once)
    message_id, _ = emulator.send_sms(portal, "+15550600001", "killed mid-send")
    settle(portal, {message_id: ("delivered", 1)})
    time.sleep(4)  # redelivery and the late check have come and gone: still one SMS
    settle(portal, {message_id: ("delivered", 1)})
    assert killed


def test_killed_mid_send_without_a_report_fails_once_not_twice(
    portal: EmulatedPortal, emulator: PortalEmulator, carrier, monkeypatch: pytest.MonkeyPatch
):
    def accepts_silently(self: SandboxCarrier, sms: OutboundSms) -> SendResult:
        carrier_id = f"SBX-silent-{sms.key}"
        SandboxCarrier.outbox.append((sms.key, carrier_id))
        return SendResult(carrier_id, "accepted")

    carrier(accepts_silently)

    def dies(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed")

    monkeypatch.setattr(store.messages, "record_carrier_accepted", dies)
    message_id, _ = emulator.send_sms(portal, "+15550600002", "killed, no report")
    settle(portal, {message_id: ("failed", 1)})
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "DISPATCH_INTERRUPTED"


def test_a_message_is_claimed_once(stack: LocalStack):
    """The claim's condition, without a race: a second claim of the same message gets nothing."""
    member_id, message_id = f"claim-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    assert store.messages.create_message(Message(member_id, message_id, to="+15550900001", body="x", created_at=store.now()))
    first = store.messages.claim_for_dispatch(member_id, message_id, 30)
    assert first is not None and first.dispatch_state == "sending" and first.attempts == 1
    assert store.messages.claim_for_dispatch(member_id, message_id, 30) is None
    stored = store.messages.get_message(member_id, message_id)
    assert stored and stored.attempts == 1 and stored.lease_until == first.lease_until
    store.messages.delete_portal_messages(member_id)


def test_concurrent_handler_calls_and_redeliveries_send_each_message_once(portal: EmulatedPortal, emulator: PortalEmulator):
    from b24sms.adapters import queues

    ids = [f"{i:032x}" for i in range(10)]
    threads = [
        threading.Thread(target=emulator.send_sms, args=(portal, f"+1555070{i:03d}7", "dup"), kwargs={"message_id": m})
        for i, m in enumerate(ids)
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for m in ids:  # the queue hands some of them out again, as SQS may
        queues.enqueue_dispatch(portal.member_id, m)
    settle(portal, {m: ("delivered", 1) for m in ids})


def test_carrier_send_rate_is_respected(
    portal: EmulatedPortal, emulator: PortalEmulator, carrier, monkeypatch: pytest.MonkeyPatch
):
    from b24sms.adapters import config

    sent_at: list[float] = []

    def timed(self: SandboxCarrier, sms: OutboundSms) -> SendResult:
        sent_at.append(time.monotonic())
        return REAL_SEND(self, sms)

    carrier(timed)
    monkeypatch.setenv("CARRIER_RATE", "2")  # 2 SMS/s, burst 2, across every dispatcher
    config.reset_settings()
    try:
        # …5: never one of the sandbox's special endings (0099 refused, 0013 undelivered)
        ids = [emulator.send_sms(portal, f"+1555080{i:03d}5", "paced")[0] for i in range(8)]
        settle(portal, {m: ("delivered", 1) for m in ids})
    finally:
        monkeypatch.delenv("CARRIER_RATE")
        config.reset_settings()
    elapsed = max(sent_at) - min(sent_at)
    assert elapsed >= (8 - 2) / 2 - 0.3, elapsed
