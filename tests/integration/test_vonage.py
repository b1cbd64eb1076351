"""Sending through Vonage's local fake, end to end: handler -> dispatch -> Vonage (one id per segment)
-> signed per-segment receipts -> one combined status pushed to the portal emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from b24sms.adapters import config, store
from local.fakes.vonage import Sent, VonageFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until

LONG = "Your order is ready for pickup at our downtown store. " * 5  # 270 GSM-7 characters: 2 segments


@pytest.fixture(scope="module")
def fake() -> Iterator[VonageFake]:
    vonage = VonageFake(signature_secret="vonage-signature-secret", signature_method="sha256").start()
    yield vonage
    vonage.stop()


@pytest.fixture
def vonage(fake: VonageFake, stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[VonageFake]:
    monkeypatch.setenv("CARRIER", "vonage")
    monkeypatch.setenv("VONAGE_API_KEY", fake.api_key)
    monkeypatch.setenv("VONAGE_API_SECRET", fake.api_secret)
    monkeypatch.setenv("VONAGE_SIGNATURE_SECRET", fake.signature_secret)
    monkeypatch.setenv("VONAGE_SIGNATURE_METHOD", fake.signature_method)
    monkeypatch.setenv("VONAGE_FROM", "AcmeInc")
    monkeypatch.setenv("VONAGE_API_BASE", fake.base_url)
    config.reset_settings()
    fake.failures.clear()
    fake.receipt_format = "json"
    yield fake
    monkeypatch.undo()
    config.reset_settings()


def sent_to(fake: VonageFake, number: str) -> list[Sent]:
    return [s for s in fake.sent if s.to == number]


def test_a_long_message_is_delivered_when_every_segment_is(
    portal: EmulatedPortal, emulator: PortalEmulator, vonage: VonageFake, stack
):
    message_id, _ = emulator.send_sms(portal, "+1 555 012 0001", LONG)
    assert final_status(portal, message_id) == "delivered"
    (sent,) = sent_to(vonage, "15550120001")
    assert len(sent.part_ids) == 2 and sent.params["client-ref"] == f"{portal.member_id}.{message_id}"
    assert sent.params["callback"] == f"{stack.base_url}/carriers/vonage/status" and "type" not in sent.params
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.parts_total == 2 and stored.segments == 2
    assert {k: v["s"] for k, v in stored.parts.items()} == dict.fromkeys(sent.part_ids, "delivered")
    assert portal.timeline(message_id) == ["sent", "delivered"]


def test_one_failed_segment_makes_the_message_undelivered(portal: EmulatedPortal, emulator: PortalEmulator, vonage: VonageFake):
    message_id, _ = emulator.send_sms(portal, "+15550120013", LONG)
    assert final_status(portal, message_id) == "undelivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "VONAGE_ERR_3" and "Absent subscriber" in stored.error_message
    # the other segment's "delivered" (sent after the failure) did not turn it into delivered
    wait_until(
        lambda: (
            (m := store.messages.get_message(portal.member_id, message_id)) and len([p for p in m.parts.values() if p["b"]]) == 2
        )
    )
    assert portal.timeline(message_id) == ["sent", "undelivered"]


def test_partial_receipts_say_sent_until_all_segments_are_delivered(
    portal: EmulatedPortal, emulator: PortalEmulator, vonage: VonageFake, stack: LocalStack
):
    message_id, _ = emulator.send_sms(portal, "+15550120002", LONG)
    assert final_status(portal, message_id) == "delivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored
    url = f"{stack.base_url}/carriers/vonage/status"
    first = next(iter(stored.parts))
    # duplicates and late intermediate receipts change nothing
    for status in ("delivered", "accepted", "failed"):
        answer = vonage.receipt(url, first, status, to="15550120002", client_ref=stored.key)
        assert answer.status_code == 200 and answer.json() == {"result": ["stale"]}
    assert portal.timeline(message_id) == ["sent", "delivered"]


def test_unicode_text_is_sent_as_unicode(portal: EmulatedPortal, emulator: PortalEmulator, vonage: VonageFake):
    message_id, _ = emulator.send_sms(portal, "+15550120003", "Ваш заказ готов 🎉")
    assert final_status(portal, message_id) == "delivered"
    (sent,) = sent_to(vonage, "15550120003")
    assert sent.params["type"] == "unicode"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.encoding == "UCS-2"


@pytest.mark.parametrize("receipt_format", ["form", "get"])
def test_receipts_as_form_posts_and_gets(
    portal: EmulatedPortal, emulator: PortalEmulator, vonage: VonageFake, receipt_format: str
):
    vonage.receipt_format = receipt_format
    message_id, _ = emulator.send_sms(portal, "+15550120004", "short")
    assert final_status(portal, message_id) == "delivered"


def test_refused_at_send_is_failed_with_vonages_reason(portal: EmulatedPortal, emulator: PortalEmulator, vonage: VonageFake):
    message_id, _ = emulator.send_sms(portal, "+15550120099", "refused")
    assert final_status(portal, message_id) == "failed"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "VONAGE_3" and "Invalid to address" in stored.error_message


def test_throttling_and_server_errors_succeed_on_retry(portal: EmulatedPortal, emulator: PortalEmulator, vonage: VonageFake):
    vonage.fail_next("1", "Throughput Rate Exceeded - please wait [ 500 ] and retry")
    vonage.fail_next("5", "Internal Error", http_status=500)
    message_id, _ = emulator.send_sms(portal, "+15550120005", "retry")
    assert final_status(portal, message_id, timeout=30) == "delivered"
    assert len(sent_to(vonage, "15550120005")) == 1
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.attempts == 2  # the throttling did not count


def test_forged_receipts_are_refused_and_change_nothing(
    portal: EmulatedPortal, emulator: PortalEmulator, vonage: VonageFake, stack: LocalStack
):
    message_id, _ = emulator.send_sms(portal, "+15550120006", "forged")
    assert final_status(portal, message_id) == "delivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored
    url = f"{stack.base_url}/carriers/vonage/status"
    part = next(iter(stored.parts))
    receipt = {
        "messageId": part,
        "status": "failed",
        "client-ref": stored.key,
        "msisdn": "15550120006",
        "timestamp": "1764000000",
    }
    unsigned = requests.post(url, json=receipt, timeout=10)
    assert unsigned.status_code == 403
    signed = dict(receipt, sig=vonage.sign(receipt))
    tampered = dict(signed, status="expired")
    assert requests.post(url, json=tampered, timeout=10).status_code == 403
    wrong_secret = dict(receipt, sig=VonageFake(signature_secret="other", signature_method="sha256").sign(receipt))
    assert requests.post(url, json=wrong_secret, timeout=10).status_code == 403
    after = store.messages.get_message(portal.member_id, message_id)
    assert after and after.status == "delivered" and after.history == stored.history and after.parts == stored.parts
    # the correctly signed one is taken (and, being late, changes nothing either)
    assert requests.post(url, json=signed, timeout=10).json() == {"result": ["stale"]}
