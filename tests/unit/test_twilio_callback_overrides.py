"""Twilio retries a status callback only when its URL asks (issue #17): the StatusCallback we send
carries Twilio's connection overrides as a URL fragment, and callbacks still verify whether Twilio
signed the URL with that fragment or without it (the fragment is never sent to us)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from twilio.request_validator import RequestValidator

from b24sms.adapters.carriers import CallbackRequest, OutboundSms, SignatureError
from b24sms.adapters.carriers.twilio import CALLBACK_OVERRIDES, TwilioCarrier
from b24sms.domain.formdata import encode_form

TOKEN = "12345678901234567890123456789012"
SID = "AC" + "1" * 32
BASE = "https://sms.example.com/carriers/twilio/status"
URL = f"{BASE}?ref=m1.abc"  # what reaches us: Twilio keeps the fragment to itself
PARAMS = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered", "AccountSid": SID}


class Answer:
    status_code = 201
    headers: dict[str, str] = {}

    def json(self) -> dict[str, Any]:
        return {"sid": "SM" + "3" * 32, "status": "queued"}


def test_the_status_callback_url_asks_twilio_to_retry(monkeypatch: pytest.MonkeyPatch):
    posted: list[dict[str, str]] = []

    def post(session: requests.Session, url: str, data: dict[str, str], **kwargs: Any) -> Answer:
        posted.append(data)
        return Answer()

    monkeypatch.setattr(requests.Session, "post", post)  # carriers send through base.post_once's session
    TwilioCarrier(SID, TOKEN, sender="+15005550006").send(OutboundSms("m1.abc", "+15550001234", "hi", BASE))
    [form] = posted
    assert form["StatusCallback"] == f"{BASE}?ref=m1.abc#{CALLBACK_OVERRIDES}"
    overrides = dict(pair.split("=") for pair in CALLBACK_OVERRIDES.split("&"))
    assert overrides["rp"] == "all" and 1 <= int(overrides["rc"]) <= 5  # Twilio's bounds: rc 0..5


def callback(signed_url: str) -> CallbackRequest:
    sig = RequestValidator(TOKEN).compute_signature(signed_url, PARAMS)
    return CallbackRequest(url=URL, headers={"x-twilio-signature": sig}, body=encode_form(PARAMS), query={"ref": "m1.abc"})


@pytest.mark.parametrize(
    "signed_url",
    [URL, f"{URL}#{CALLBACK_OVERRIDES}", f"https://sms.example.com:443/carriers/twilio/status?ref=m1.abc#{CALLBACK_OVERRIDES}"],
    ids=["without-fragment", "with-fragment", "with-port-and-fragment"],
)
def test_a_callback_verifies_whether_twilio_signed_the_fragment_or_not(signed_url: str):
    [report] = TwilioCarrier(SID, TOKEN, sender="+15005550006").parse_status(callback(signed_url))
    assert report.bitrix_status == "delivered"


def test_a_callback_signed_over_another_fragment_is_refused():
    with pytest.raises(SignatureError):
        TwilioCarrier(SID, TOKEN, sender="+15005550006").parse_status(callback(f"{URL}#rc=0"))
