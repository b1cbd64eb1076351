"""Signed carrier callbacks at the HTTP edge (status and inbound routes): a signature that is not even
ASCII is a 403 JSON refusal (never a 500), whichever carrier and route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from b24sms.adapters import config
from local.fakes.twilio import TwilioFake
from local.fakes.vonage import VonageFake
from local.stack import LocalStack


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, Any]]:
    twilio = TwilioFake().start()
    vonage = VonageFake(signature_secret="signatures-test-secret", signature_method="sha256").start()
    yield {"twilio": twilio, "vonage": vonage}
    twilio.stop()
    vonage.stop()


@pytest.fixture
def carriers(fakes: dict[str, Any], stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The deployment has Twilio and Vonage settings (the default carrier stays the sandbox)."""
    twilio, vonage = fakes["twilio"], fakes["vonage"]
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", twilio.account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", twilio.auth_token)
    monkeypatch.setenv("TWILIO_FROM", "+15005550006")
    monkeypatch.setenv("TWILIO_API_BASE", twilio.base_url)
    monkeypatch.setenv("VONAGE_API_KEY", vonage.api_key)
    monkeypatch.setenv("VONAGE_API_SECRET", vonage.api_secret)
    monkeypatch.setenv("VONAGE_SIGNATURE_SECRET", vonage.signature_secret)
    monkeypatch.setenv("VONAGE_SIGNATURE_METHOD", vonage.signature_method)
    monkeypatch.setenv("VONAGE_FROM", "AcmeInc")
    monkeypatch.setenv("VONAGE_API_BASE", vonage.base_url)
    config.reset_settings()
    yield fakes
    monkeypatch.undo()
    config.reset_settings()


BODIES = {
    "sandbox": {"message_id": "SBX1", "ref": "m.x", "status": "delivered", "from": "+15550190001", "to": "+15005550006"},
    "twilio": {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "From": "+15550190001", "To": "+15005550006"},
    "vonage": {"messageId": "0A1", "status": "delivered", "msisdn": "15550190001", "to": "15005550006", "text": "hi"},
}


@pytest.mark.parametrize("route", ["status", "inbound"])
@pytest.mark.parametrize("carrier", ["sandbox", "twilio", "vonage"])
@pytest.mark.parametrize("given", ["é", "\u00e9" * 64, "\u202e\u0000"], ids=["e-acute", "long", "rlo-nul"])
def test_a_non_ascii_signature_is_refused_not_a_500(
    stack: LocalStack, carriers: dict[str, Any], carrier: str, route: str, given: str
):
    url = f"{stack.base_url}/carriers/{carrier}/{route}"
    if carrier == "vonage":  # its sig is a parameter, in the query or the body
        body = dict(BODIES[carrier], sig=given)
        answers = [requests.post(url, json=body, timeout=10), requests.get(url, params=body, timeout=10)]
    else:
        header = "X-Sandbox-Signature" if carrier == "sandbox" else "X-Twilio-Signature"
        # requests sends a str header as latin-1: the raw bytes, as a caller could
        value = given.replace("\u0000", "").encode("utf-8").decode("latin-1")
        answers = [requests.post(url, data=BODIES[carrier], headers={header: value}, timeout=10)]
    for answer in answers:
        assert answer.status_code == 403, (answer.status_code, answer.text)
        assert answer.json()["error"] == "bad_signature"
