"""Send: HANDLER call -> outbound queue -> sandbox carrier -> signed callback -> status push."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from b24sms.adapters import store
from b24sms.adapters.carriers.sandbox import SandboxCarrier, sign
from b24sms.domain.formdata import encode_form
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until


def sends_of(portal: EmulatedPortal, message_id: str) -> int:
    return sum(1 for key, _ in SandboxCarrier.outbox if key == f"{portal.member_id}.{message_id}")


@pytest.mark.parametrize("with_auth", [True, False], ids=["user-with-auth", "robot-without-auth"])
def test_sms_is_sent_and_delivered(portal: EmulatedPortal, emulator: PortalEmulator, with_auth: bool):
    message_id, response = emulator.send_sms(portal, "+15550001234", "Your order is ready", with_auth=with_auth)
    assert response.status_code == 200
    assert response.json() == {"result": True, "message_id": message_id, "duplicate": False}
    assert final_status(portal, message_id) == "delivered"
    assert portal.timeline(message_id) == ["sent", "delivered"]
    assert sends_of(portal, message_id) == 1
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.carrier == "sandbox" and stored.carrier_message_id.startswith("SBX")
    assert stored.body == ""  # the text is not kept once the carrier has it
    assert [(h["status"], h["source"]) for h in stored.history] == [("delivered", "carrier:sandbox")]


def test_undelivered_and_failed_reach_the_portal(portal: EmulatedPortal, emulator: PortalEmulator):
    undelivered, _ = emulator.send_sms(portal, "+15550000013", "will not arrive")
    rejected, _ = emulator.send_sms(portal, "+15550000099", "refused at send")
    assert final_status(portal, undelivered) == "undelivered"
    assert final_status(portal, rejected) == "failed"
    assert sends_of(portal, rejected) == 0
    failed = store.messages.get_message(portal.member_id, rejected)
    assert failed and failed.error_code == "SANDBOX_REJECTED" and failed.dispatch_state == "rejected"


def test_duplicate_message_id_is_sent_once(portal: EmulatedPortal, emulator: PortalEmulator):
    message_id, first = emulator.send_sms(portal, "+15550002000", "once")
    _, second = emulator.send_sms(portal, "+15550002000", "once", message_id=message_id)
    assert first.json()["duplicate"] is False
    assert second.status_code == 200 and second.json()["duplicate"] is True
    assert final_status(portal, message_id) == "delivered"
    assert sends_of(portal, message_id) == 1


def test_concurrent_duplicates_are_sent_once(portal: EmulatedPortal, emulator: PortalEmulator):
    message_id = "c" * 32
    answers: list[dict[str, Any]] = []
    barrier = threading.Barrier(8)

    def post() -> None:
        barrier.wait()
        _, response = emulator.send_sms(portal, "+15550003000", "at once", message_id=message_id)
        answers.append(response.json())

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a["duplicate"] for a in answers) == [False] + [True] * 7
    assert final_status(portal, message_id) == "delivered"
    wait_until(lambda: sends_of(portal, message_id) >= 1)
    assert sends_of(portal, message_id) == 1
    assert portal.timeline(message_id) == ["sent", "delivered"]


def test_rate_limit_errors_from_the_portal_are_retried(portal: EmulatedPortal, emulator: PortalEmulator):
    portal.fail_next(3, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
    message_id, _ = emulator.send_sms(portal, "+15550004000", "busy portal")
    assert final_status(portal, message_id, timeout=30) == "delivered"
    assert [c.error for c in portal.calls_to("messageservice.message.status.update")][:3] == ["QUERY_LIMIT_EXCEEDED"] * 3


def test_expired_token_is_refreshed_before_the_push(portal: EmulatedPortal, emulator: PortalEmulator):
    before = portal.refreshes
    portal.expire_tokens()
    message_id, _ = emulator.send_sms(portal, "+15550005000", "token expired", with_auth=False)
    assert final_status(portal, message_id) == "delivered"
    assert portal.refreshes == before + 1


def test_late_and_repeated_callbacks_never_move_a_status_backwards(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    message_id, _ = emulator.send_sms(portal, "+15550006000", "out of order")
    assert final_status(portal, message_id) == "delivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored
    secret = stack.environment["SANDBOX_SECRET"]
    results = []
    for status in ("sent", "delivered", "undelivered"):
        body = encode_form({"message_id": stored.carrier_message_id, "ref": stored.key, "status": status})
        response = requests.post(
            f"{stack.base_url}/carriers/sandbox/status",
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-Sandbox-Signature": sign(secret, body)},
            timeout=10,
        )
        assert response.status_code == 200
        results.append(response.json()["result"])
    assert results == [["stale"], ["stale"], ["stale"]]
    assert portal.timeline(message_id) == ["sent", "delivered"]
    after = store.messages.get_message(portal.member_id, message_id)
    assert after and after.status == "delivered"


def test_a_callback_that_arrives_before_the_send_is_recorded_still_lands(portal: EmulatedPortal, emulator: PortalEmulator):
    # The sandbox posts its callbacks before its send returns: the status route finds the message
    # by our key, and dispatch's own "sent" afterwards does not overwrite "delivered".
    message_id, _ = emulator.send_sms(portal, "+15550007000", "fast carrier")
    assert final_status(portal, message_id) == "delivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.status == "delivered" and stored.dispatch_state == "sent"


def test_an_impossible_number_fails_at_once_and_is_never_sent(portal: EmulatedPortal, emulator: PortalEmulator):
    message_id, response = emulator.send_sms(portal, "+7 12", "to nowhere")
    assert response.status_code == 200
    assert final_status(portal, message_id) == "failed"
    assert sends_of(portal, message_id) == 0
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "INVALID_NUMBER" and "wrong length" in stored.error_message


def test_a_runaway_text_fails_instead_of_sending_many_parts(portal: EmulatedPortal, emulator: PortalEmulator):
    message_id, _ = emulator.send_sms(portal, "+15550009001", "a" * (10 * 153 + 1))
    assert final_status(portal, message_id) == "failed"
    assert sends_of(portal, message_id) == 0
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "TOO_MANY_SEGMENTS"


def test_the_number_is_sent_in_e164_and_the_size_recorded(portal: EmulatedPortal, emulator: PortalEmulator):
    message_id, _ = emulator.send_sms(portal, "+1 (555) 000-9002", "Привет 😀")
    assert final_status(portal, message_id) == "delivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and (stored.sent_to, stored.encoding, stored.segments) == ("+15550009002", "UCS-2", 1)
