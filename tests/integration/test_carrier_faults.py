"""One SMS per message whatever the carrier's connection does, counted at the carrier's fake, through
the whole local stack (handler -> dispatch -> carrier): a connection that fails after the carrier read
the request (closed without an answer, stalled past our timeout, reset mid-answer) is never sent again
(the message waits for a report, then fails with DISPATCH_INTERRUPTED); a refused connection is
retried and sent once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from b24sms.adapters import config, store
from local.fakes.faults import MODES
from local.fakes.twilio import TwilioFake
from local.fakes.vonage import VonageFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status

HTTP_TIMEOUT = 2.0  # the carrier client's timeout in these tests (HTTP_TIMEOUT); a stall outlasts it


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    twilio = TwilioFake().start()
    vonage = VonageFake(signature_secret="fault-test-signature-secret", signature_method="sha256").start()
    for fake in (twilio, vonage):
        fake.faults.stall_seconds = HTTP_TIMEOUT + 1
    yield {"twilio": twilio, "vonage": vonage}
    twilio.stop()
    vonage.stop()


@pytest.fixture(params=["twilio", "vonage"])
def fake(
    request: pytest.FixtureRequest, fakes: dict[str, Any], stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    name = request.param
    chosen = fakes[name]
    monkeypatch.setenv("CARRIER", name)
    monkeypatch.setenv("HTTP_TIMEOUT", str(HTTP_TIMEOUT))
    if name == "twilio":
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", chosen.account_sid)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", chosen.auth_token)
        monkeypatch.setenv("TWILIO_FROM", "+15005550006")
        monkeypatch.setenv("TWILIO_API_BASE", chosen.base_url)
    else:
        monkeypatch.setenv("VONAGE_API_KEY", chosen.api_key)
        monkeypatch.setenv("VONAGE_API_SECRET", chosen.api_secret)
        monkeypatch.setenv("VONAGE_SIGNATURE_SECRET", chosen.signature_secret)
        monkeypatch.setenv("VONAGE_SIGNATURE_METHOD", chosen.signature_method)
        monkeypatch.setenv("VONAGE_FROM", "AcmeInc")
        monkeypatch.setenv("VONAGE_API_BASE", chosen.base_url)
    config.reset_settings()
    chosen.faults.clear()
    yield chosen
    chosen.faults.clear()
    monkeypatch.undo()
    config.reset_settings()


@pytest.mark.parametrize("mode", MODES)
def test_a_connection_lost_after_the_request_sends_once_and_never_again(
    portal: EmulatedPortal, emulator: PortalEmulator, fake: Any, mode: str
):
    fake.faults.next(mode)
    message_id, _ = emulator.send_sms(portal, "+15550180001", f"connection {mode}")
    key = f"{portal.member_id}.{message_id}"
    status = final_status(portal, message_id, timeout=40)
    assert fake.received_for(key) == 1
    assert status == "failed", portal.timeline(message_id)
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "DISPATCH_INTERRUPTED" and stored.attempts == 1
    assert portal.timeline(message_id) == ["sent", "failed"]


def test_a_refused_connection_is_retried_and_sends_once(portal: EmulatedPortal, emulator: PortalEmulator, fake: Any):
    fake.refuse_for(1.5)
    message_id, _ = emulator.send_sms(portal, "+15550180002", "connection refused")
    assert final_status(portal, message_id, timeout=40) == "delivered", portal.timeline(message_id)
    assert fake.received_for(f"{portal.member_id}.{message_id}") == 1
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.attempts >= 2
