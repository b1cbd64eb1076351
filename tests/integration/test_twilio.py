"""Sending through Twilio's local fake, end to end: handler -> dispatch -> Twilio -> signed callback
-> status push to the portal emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from b24sms.adapters import config, store
from b24sms.adapters.carriers.twilio import CALLBACK_OVERRIDES
from b24sms.domain.privacy import mask_phone
from local.fakes.twilio import TwilioFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status


@pytest.fixture(scope="module")
def fake() -> Iterator[TwilioFake]:
    twilio = TwilioFake().start()
    yield twilio
    twilio.stop()


@pytest.fixture
def twilio(fake: TwilioFake, stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioFake]:
    monkeypatch.setenv("CARRIER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", fake.account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", fake.auth_token)
    monkeypatch.setenv("TWILIO_FROM", "+15005550006")
    monkeypatch.setenv("TWILIO_API_BASE", fake.base_url)
    config.reset_settings()
    fake.failures.clear()
    yield fake
    monkeypatch.undo()
    config.reset_settings()


def sent_to(fake: TwilioFake, number: str) -> int:
    return sum(1 for s in fake.sent if s.to == number)


def test_delivered_through_twilio(portal: EmulatedPortal, emulator: PortalEmulator, twilio: TwilioFake, stack: LocalStack):
    message_id, _ = emulator.send_sms(portal, "+1 555 011 0001", "Hello from Twilio")
    assert final_status(portal, message_id) == "delivered"
    assert sent_to(twilio, "+15550110001") == 1
    sent = next(s for s in twilio.sent if s.to == "+15550110001")
    assert sent.params["From"] == "+15005550006" and sent.body == "Hello from Twilio"
    assert (
        sent.params["StatusCallback"]
        == f"{stack.base_url}/carriers/twilio/status?ref={portal.member_id}.{message_id}#{CALLBACK_OVERRIDES}"
    )
    stored = store.messages.get_message(portal.member_id, message_id)
    assert (
        stored and stored.carrier == "twilio" and stored.carrier_message_id == sent.sid and stored.carrier_status == "delivered"
    )


def test_undelivered_keeps_twilios_error_code(portal: EmulatedPortal, emulator: PortalEmulator, twilio: TwilioFake):
    message_id, _ = emulator.send_sms(portal, "+15550110013", "unreachable")
    assert final_status(portal, message_id) == "undelivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "TWILIO_30003" and stored.carrier_status == "undelivered"


@pytest.mark.parametrize(("number", "code"), [("+15550110099", "TWILIO_21612"), ("+15550110610", "TWILIO_21610")])
def test_refused_at_send_is_failed_with_twilios_reason(
    portal: EmulatedPortal, emulator: PortalEmulator, twilio: TwilioFake, number, code
):
    message_id, _ = emulator.send_sms(portal, number, "refused")
    assert final_status(portal, message_id) == "failed"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == code and stored.error_message
    assert stored.attempts == 1


def test_twilios_21211_text_is_stored_masked(portal: EmulatedPortal, emulator: PortalEmulator, twilio: TwilioFake):
    # Twilio's own wording: the whole number is in the text (the fake answers the next send with it).
    twilio.fail_next(400, 21211, "The 'To' number +15550114321 is not a valid phone number.")
    message_id, _ = emulator.send_sms(portal, "+15550114321", "refused")
    assert final_status(portal, message_id) == "failed"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "TWILIO_21211"
    assert stored.error_message == f"The 'To' number {mask_phone('+15550114321')} is not a valid phone number."


def test_transient_errors_succeed_on_retry(portal: EmulatedPortal, emulator: PortalEmulator, twilio: TwilioFake):
    twilio.fail_next(503, 20500, "Internal Server Error")
    twilio.fail_next(429, 20429, "Too Many Requests")
    message_id, _ = emulator.send_sms(portal, "+15550110002", "retry")
    assert final_status(portal, message_id, timeout=30) == "delivered"
    assert sent_to(twilio, "+15550110002") == 1
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.attempts == 2  # the 429 did not count


def test_a_forged_twilio_callback_is_refused_and_changes_nothing(
    portal: EmulatedPortal, emulator: PortalEmulator, twilio: TwilioFake, stack: LocalStack
):
    message_id, _ = emulator.send_sms(portal, "+15550110003", "forged")
    assert final_status(portal, message_id) == "delivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored
    url = f"{stack.base_url}/carriers/twilio/status?ref={stored.key}"
    forged = {"MessageSid": stored.carrier_message_id, "MessageStatus": "failed", "AccountSid": twilio.account_sid}
    response = requests.post(url, data=forged, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}, timeout=10)
    assert response.status_code == 403
    # Correctly signed, but for another URL than the one called:
    from twilio.request_validator import RequestValidator

    signed_elsewhere = RequestValidator(twilio.auth_token).compute_signature("https://evil.example/x", forged)
    response = requests.post(url, data=forged, headers={"X-Twilio-Signature": signed_elsewhere}, timeout=10)
    assert response.status_code == 403
    after = store.messages.get_message(portal.member_id, message_id)
    assert after and after.status == "delivered" and after.history == stored.history


def test_late_and_duplicate_twilio_callbacks_change_nothing(
    portal: EmulatedPortal, emulator: PortalEmulator, twilio: TwilioFake, stack: LocalStack
):
    message_id, _ = emulator.send_sms(portal, "+15550110004", "late")
    assert final_status(portal, message_id) == "delivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored
    url = f"{stack.base_url}/carriers/twilio/status?ref={stored.key}"
    for status in ("sent", "delivered", "undelivered", "queued"):
        assert twilio.callback(url, stored.carrier_message_id, status).status_code == 200
    assert portal.timeline(message_id) == ["sent", "delivered"]


def test_a_callback_without_our_key_is_found_by_twilios_sid(
    portal: EmulatedPortal, emulator: PortalEmulator, twilio: TwilioFake, stack: LocalStack
):
    message_id, _ = emulator.send_sms(portal, "+15550110005", "no ref")
    assert final_status(portal, message_id) == "delivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored
    url = f"{stack.base_url}/carriers/twilio/status"  # e.g. a callback URL set on the Twilio number itself
    assert twilio.callback(url, stored.carrier_message_id, "sent").json() == {"result": ["stale"]}
    assert twilio.callback(url, "SM" + "0" * 32, "delivered").json() == {"result": ["unknown"]}
