"""Carrier error texts are logged and stored, and some name the recipient (Twilio's 21211: "The 'To'
number +16178679194 is not a valid phone number."): every adapter masks the number in them."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from b24sms.adapters.carriers import OutboundSms, PermanentCarrierError, TransientCarrierError
from b24sms.adapters.carriers import aws_sms as aws
from b24sms.adapters.carriers.twilio import TwilioCarrier
from b24sms.adapters.carriers.vonage import VonageCarrier
from b24sms.domain.privacy import mask_carrier_text, mask_phone

TWILIO_21211 = "The 'To' number +16178679194 is not a valid phone number."
SMS = OutboundSms("m1.abc", "+16178679194", "hello", "https://x/carriers/status")


def no_number(text: str) -> bool:
    return "6178679194" not in text and "8679194" not in text and "867-9194" not in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TWILIO_21211, f"The 'To' number {mask_phone('+16178679194')} is not a valid phone number."),
        ("Invalid to address: 16178679194", f"Invalid to address: {mask_phone('16178679194')}"),
        ("number +1 617-867-9194 blocked", f"number {mask_phone('+16178679194')} blocked"),
        ("call (617) 867 9194.", f"call {mask_phone('6178679194')}."),
        ("+44 7700 900123 (21211)", f"{mask_phone('+447700900123')} (21211)"),
    ],
)
def test_phone_numbers_in_carrier_texts_are_masked(text: str, expected: str):
    assert mask_carrier_text(text) == expected
    assert mask_carrier_text(expected) == expected  # masking twice changes nothing


@pytest.mark.parametrize(
    "text",
    ["Error 21211 (see https://www.twilio.com/docs/errors/21211)", "30003: Unreachable destination handset", "4 of 123456", ""],
)
def test_error_codes_and_short_numbers_stay_readable(text: str):
    assert mask_carrier_text(text) == text


class Answer:
    def __init__(self, status: int, payload: dict[str, Any]) -> None:
        self.status_code = status
        self.payload = payload
        self.headers: dict[str, str] = {}

    def json(self) -> dict[str, Any]:
        return self.payload


def test_twilios_21211_text_is_masked(monkeypatch: pytest.MonkeyPatch):
    answer = Answer(400, {"code": 21211, "message": TWILIO_21211, "status": 400})
    monkeypatch.setattr(requests.Session, "post", lambda *a, **k: answer)
    with pytest.raises(PermanentCarrierError) as info:
        TwilioCarrier("AC" + "1" * 32, "token", sender="+15005550006").send(SMS)
    assert info.value.code == "TWILIO_21211"
    assert info.value.message == mask_carrier_text(TWILIO_21211) and no_number(str(info.value))


def test_twilios_server_error_text_is_masked(monkeypatch: pytest.MonkeyPatch):
    answer = Answer(503, {"code": 20500, "message": "Internal error sending to +16178679194"})
    monkeypatch.setattr(requests.Session, "post", lambda *a, **k: answer)
    with pytest.raises(TransientCarrierError) as info:
        TwilioCarrier("AC" + "1" * 32, "token", sender="+15005550006").send(SMS)
    assert no_number(str(info.value))


def test_vonages_error_text_is_masked(monkeypatch: pytest.MonkeyPatch):
    answer = Answer(200, {"message-count": "1", "messages": [{"status": "3", "error-text": "Invalid to address 16178679194"}]})
    monkeypatch.setattr(requests.Session, "post", lambda *a, **k: answer)
    with pytest.raises(PermanentCarrierError) as info:
        VonageCarrier("key", "secret", sender="AcmeInc").send(SMS)
    assert info.value.code == "VONAGE_3"
    assert info.value.message.startswith("Invalid to address") and no_number(str(info.value))


def test_aws_error_text_is_masked(monkeypatch: pytest.MonkeyPatch):
    from botocore.exceptions import ClientError

    class Client:
        def send_text_message(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError(
                {
                    "Error": {"Code": "ValidationException", "Message": "DestinationPhoneNumber +16178679194 is invalid"},
                    "Reason": "INVALID_ARGUMENTS",
                },  # type: ignore[typeddict-unknown-key]
                "SendTextMessage",
            )

    monkeypatch.setattr(aws, "_client", lambda *a: Client())
    with pytest.raises(PermanentCarrierError) as info:
        aws.AwsSmsCarrier(origination_identity="+15005550006", configuration_set="cs").send(SMS)
    assert info.value.code == "AWS_ValidationException_INVALID_ARGUMENTS"
    assert "is invalid (INVALID_ARGUMENTS)" in info.value.message and no_number(str(info.value))
