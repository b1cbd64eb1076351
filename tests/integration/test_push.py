"""Status pushes against moto and the portal emulator: single calls where batch refuses the method,
statuses the portal no longer knows dropped, outages, a portal refusing connections, OPERATION_TIME_LIMIT.
Many statuses in one batch call, batches of 50 and nothing pushed twice are checked once, in the unit
tier (tests/unit/test_push_fleet.py), on in-memory stand-ins."""

from __future__ import annotations

import secrets
import socket
import time

import pytest

from b24sms.adapters import store
from b24sms.domain import bitrix_statuses
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import Message
from b24sms.usecases import push
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack


def delivered_messages(portal: EmulatedPortal, count: int, known: bool = True) -> list[tuple[str, str]]:
    keys = []
    for _ in range(count):
        message_id = secrets.token_hex(16)
        store.messages.create_message(
            Message(
                member_id=portal.member_id,
                message_id=message_id,
                to="+15550000000",
                code="b24sms",
                dispatch_state=DispatchState.SENT,
            )
        )
        store.messages.advance_status(portal.member_id, message_id, "delivered", bitrix_statuses.rank("delivered"), source="test")
        if known:
            portal.messages[message_id] = ["sent"]
        keys.append((portal.member_id, message_id))
    return keys


def test_batch_refusing_the_method_falls_back_to_single_calls(portal: EmulatedPortal):
    portal.batch_allows_messageservice = False
    keys = delivered_messages(portal, 4)
    report = push.push(keys)
    assert len(report.pushed) == 4 and not report.failed
    singles = [c for c in portal.calls_to("messageservice.message.status.update") if not c.in_batch]
    assert len(singles) == 4
    assert all(portal.timeline(m) == ["sent", "delivered"] for _, m in keys)


def test_unknown_messages_are_dropped_not_retried(portal: EmulatedPortal):
    known = delivered_messages(portal, 2)
    unknown = delivered_messages(portal, 1, known=False)
    report = push.push(known + unknown)
    assert sorted(report.pushed) == sorted(known)
    assert report.dropped == unknown and not report.failed
    assert push.push(unknown).dropped == []  # recorded: never tried again


def test_portal_outage_leaves_statuses_queued(portal: EmulatedPortal):
    keys = delivered_messages(portal, 3)
    portal.down = True
    calls = len(portal.calls)
    try:
        started = time.monotonic()
        report = push.push(keys)
        elapsed = time.monotonic() - started
    finally:
        portal.down = False
    assert sorted(report.failed) == sorted(keys) and not report.pushed
    # Fail fast: one request, no sleeping retries (the queue's back-off is the retry).
    assert len(portal.calls) == calls + 1 and elapsed < 1.0
    assert sorted(push.push(keys).pushed) == sorted(keys)


def test_statuses_of_an_uninstalled_portal_are_dropped(portal: EmulatedPortal):
    keys = delivered_messages(portal, 2)
    store.portals.mark_uninstalled(portal.member_id)
    report = push.push(keys)
    assert sorted(report.dropped) == sorted(keys) and not report.failed and not report.pushed


def test_a_carrier_answer_after_an_erase_does_not_bring_the_message_back(portal: EmulatedPortal):
    [(member_id, message_id)] = delivered_messages(portal, 1)
    message = store.messages.get_message(member_id, message_id)
    assert message
    store.messages.delete_portal_messages(member_id)  # uninstall with CLEAN, while a dispatch was mid-send
    store.messages.record_carrier_accepted(
        message, "sandbox", "SBX1", "accepted", to="+15550000000", encoding="GSM-7", segments=1
    )
    assert store.messages.get_message(member_id, message_id) is None


def test_one_portals_failure_does_not_hold_back_another_portals_statuses(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    other = emulator.add_portal()
    emulator.install(other, f"{stack.base_url}/bitrix/install")
    broken, fine = delivered_messages(portal, 2), delivered_messages(other, 2)
    real_get_portal = store.portals.get_portal

    def get_portal(member_id: str):  # type: ignore[no-untyped-def]
        if member_id == portal.member_id:
            raise RuntimeError("this portal's record is unreadable")
        return real_get_portal(member_id)

    monkeypatch.setattr(store.portals, "get_portal", get_portal)
    report = push.push(broken + fine)
    assert sorted(report.pushed) == sorted(fine)
    assert sorted(report.failed) == sorted(broken)


def test_a_portal_refusing_connections_fails_in_well_under_a_second(portal: EmulatedPortal, monkeypatch: pytest.MonkeyPatch):
    keys = delivered_messages(portal, 3)
    with socket.socket() as closed:  # a port nobody listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    real_get_portal = store.portals.get_portal

    def refusing(member_id: str):  # type: ignore[no-untyped-def]
        found = real_get_portal(member_id)
        if found is not None and member_id == portal.member_id:
            found.client_endpoint = f"http://127.0.0.1:{port}/rest/"
        return found

    monkeypatch.setattr(store.portals, "get_portal", refusing)
    started = time.monotonic()
    report = push.push(keys)
    assert time.monotonic() - started < 1.0
    assert sorted(report.failed) == sorted(keys) and report.calls == 1


def test_operation_time_limit_defers_until_the_portal_says(portal: EmulatedPortal):
    keys = delivered_messages(portal, 2)
    portal.fail_next(10, 429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.")
    report = push.push(keys)
    assert sorted(report.failed) == sorted(keys)
    assert 500 < report.retry_after <= 600  # the emulator's operating_reset_at is 10 minutes ahead
    portal.failures.clear()
