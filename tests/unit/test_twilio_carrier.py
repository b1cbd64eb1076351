"""Twilio's signature and status mapping, checked against the official library (the oracle)."""

from __future__ import annotations

import pytest
from twilio.request_validator import RequestValidator

from b24sms.adapters.carriers import CallbackRequest, SignatureError
from b24sms.adapters.carriers.twilio import STATUS_MAP, TwilioCarrier, signature
from b24sms.domain.formdata import encode_form

TOKEN = "12345678901234567890123456789012"
SID = "AC" + "1" * 32
URL = "https://sms.example.com/carriers/twilio/status?ref=m1.abc"
PARAMS = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered", "AccountSid": SID, "To": "+15550001234"}


def carrier() -> TwilioCarrier:
    return TwilioCarrier(SID, TOKEN, sender="+15005550006")


def request(url: str = URL, params: dict[str, str] | None = None, sig: str | None = None) -> CallbackRequest:
    params = params or PARAMS
    sig = RequestValidator(TOKEN).compute_signature(url, params) if sig is None else sig
    return CallbackRequest(url=url, headers={"x-twilio-signature": sig}, body=encode_form(params), query={"ref": "m1.abc"})


def test_our_signature_is_twilios():
    assert signature(TOKEN, URL, PARAMS) == RequestValidator(TOKEN).compute_signature(URL, PARAMS)


def test_a_correctly_signed_callback_is_read():
    [report] = carrier().parse_status(request())
    assert (report.carrier_message_id, report.bitrix_status, report.message_key) == (PARAMS["MessageSid"], "delivered", "m1.abc")


def test_signature_over_the_url_with_the_default_port_is_accepted():
    sig = RequestValidator(TOKEN).compute_signature("https://sms.example.com:443/carriers/twilio/status?ref=m1.abc", PARAMS)
    assert carrier().parse_status(request(sig=sig))


@pytest.mark.parametrize(
    "tamper",
    ["body", "url", "header", "missing", "other-token"],
)
def test_tampered_callbacks_are_refused(tamper):
    good = request()
    if tamper == "body":
        bad = CallbackRequest(good.url, good.headers, good.body.replace("delivered", "failed"), good.query)
    elif tamper == "url":
        bad = CallbackRequest(good.url.replace("m1.abc", "m1.xyz"), good.headers, good.body, good.query)
    elif tamper == "header":
        bad = CallbackRequest(
            good.url, {"x-twilio-signature": good.headers["x-twilio-signature"][:-4] + "AAA="}, good.body, good.query
        )
    elif tamper == "missing":
        bad = CallbackRequest(good.url, {}, good.body, good.query)
    else:
        bad = request(sig=RequestValidator("another-token-000000000000000000").compute_signature(URL, PARAMS))
    with pytest.raises(SignatureError):
        carrier().parse_status(bad)


@pytest.mark.parametrize(("twilio_status", "bitrix_status"), sorted(STATUS_MAP.items()))
def test_every_documented_status_maps(twilio_status, bitrix_status):
    params = {**PARAMS, "MessageStatus": twilio_status, "ErrorCode": "30003" if twilio_status == "undelivered" else ""}
    [report] = carrier().parse_status(request(params=params))
    assert report.bitrix_status == bitrix_status
    assert report.carrier_status == twilio_status
    if twilio_status == "undelivered":
        assert report.error_code == "TWILIO_30003"


def test_every_status_twilio_documents_is_in_the_map():
    documented = {
        "queued", "sending", "sent", "delivered", "undelivered", "failed", "read", "accepted", "scheduled",
        "canceled", "partially_delivered", "receiving", "received",
    }  # fmt: skip
    assert set(STATUS_MAP) == documented


@pytest.mark.parametrize("route", ["parse_status", "parse_inbound"])
def test_a_rightly_signed_callback_for_another_account_is_refused(route: str):
    """Signed with our auth token over the exact URL, but naming another AccountSid (a token shared
    by two accounts, or a subaccount's callback): not ours, refused."""
    other = {**PARAMS, "AccountSid": "AC" + "9" * 32, "From": "+15550001111"}
    with pytest.raises(SignatureError, match="another Twilio account"):
        getattr(carrier(), route)(request(params=other))
    assert getattr(carrier(), route)(request(params={**PARAMS, "From": "+15550001111"}))  # ours is read


@pytest.mark.parametrize("given", ["é", "\u202e" * 28, "\ud800"])
def test_a_non_ascii_signature_is_refused_as_a_bad_signature(given: str):
    with pytest.raises(SignatureError):
        carrier().parse_status(request(sig=given))
