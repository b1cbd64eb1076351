"""Inbound SMS for each carrier: signed webhooks are read into an InboundSms (signatures made with the
official libraries, the oracles), tampered ones refused, malformed ones rejected; the fakes' inbound
webhooks are read back by the adapters."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from twilio.request_validator import RequestValidator
from vonage_http_client.auth import Auth

from b24sms.adapters.carriers import CallbackRequest, InboundSms, SignatureError
from b24sms.adapters.carriers.sandbox import SandboxCarrier, inbound_form
from b24sms.adapters.carriers.twilio import TwilioCarrier
from b24sms.adapters.carriers.vonage import VonageCarrier, receipt_params, sign
from b24sms.domain.formdata import encode_form
from local.fakes.twilio import TwilioFake
from local.fakes.vonage import VonageFake
from local.httpserver import LoopbackServer, Reply

# --- Twilio ---------------------------------------------------------------------------------------

TOKEN = "12345678901234567890123456789012"
SID = "AC" + "1" * 32
TWILIO_URL = "https://sms.example.com/carriers/twilio/inbound"
TWILIO_INBOUND = {
    "ToCountry": "US",
    "SmsMessageSid": "SM" + "3" * 32,
    "NumMedia": "0",
    "SmsSid": "SM" + "3" * 32,
    "SmsStatus": "received",
    "Body": "Hello & welcome = yes",
    "To": "+15005550006",
    "MessagingServiceSid": "",
    "NumSegments": "1",
    "MessageSid": "SM" + "3" * 32,
    "AccountSid": SID,
    "From": "+15550001234",
    "ApiVersion": "2010-04-01",
}


def twilio() -> TwilioCarrier:
    return TwilioCarrier(SID, TOKEN, sender="+15005550006")


def twilio_request(params: dict[str, str] | None = None, url: str = TWILIO_URL, sig: str | None = None) -> CallbackRequest:
    params = TWILIO_INBOUND if params is None else params
    sig = RequestValidator(TOKEN).compute_signature(url, params) if sig is None else sig
    return CallbackRequest(url=url, headers={"x-twilio-signature": sig}, body=encode_form(params))


def test_twilio_signed_inbound_is_read():
    assert twilio().parse_inbound(twilio_request()) == InboundSms(
        carrier_message_id="SM" + "3" * 32, from_number="+15550001234", to_number="+15005550006", text="Hello & welcome = yes"
    )


def test_twilio_inbound_signed_over_the_url_with_the_default_port_is_accepted():
    sig = RequestValidator(TOKEN).compute_signature("https://sms.example.com:443/carriers/twilio/inbound", TWILIO_INBOUND)
    assert twilio().parse_inbound(twilio_request(sig=sig)).carrier_message_id == "SM" + "3" * 32


def test_twilio_media_only_mms_has_empty_text():
    params = {**TWILIO_INBOUND, "Body": "", "NumMedia": "1", "MediaUrl0": "https://api.twilio.com/m/1"}
    assert twilio().parse_inbound(twilio_request(params)).text == ""


@pytest.mark.parametrize("tamper", ["body", "url", "header", "missing", "other-token", "other-account"])
def test_twilio_tampered_inbound_is_refused(tamper: str):
    good = twilio_request()
    if tamper == "body":
        bad = CallbackRequest(good.url, good.headers, good.body.replace("Hello", "Goodbye"))
    elif tamper == "url":
        bad = CallbackRequest(good.url + "?x=1", good.headers, good.body)
    elif tamper == "header":
        bad = CallbackRequest(good.url, {"x-twilio-signature": good.headers["x-twilio-signature"][:-4] + "AAA="}, good.body)
    elif tamper == "missing":
        bad = CallbackRequest(good.url, {}, good.body)
    elif tamper == "other-token":
        other = RequestValidator("another-token-000000000000000000").compute_signature(TWILIO_URL, TWILIO_INBOUND)
        bad = twilio_request(sig=other)
    else:  # correctly signed, but for another account
        bad = twilio_request({**TWILIO_INBOUND, "AccountSid": "AC" + "9" * 32})
    with pytest.raises(SignatureError):
        twilio().parse_inbound(bad)


@pytest.mark.parametrize("missing", ["MessageSid", "From"])
def test_twilio_inbound_without_sid_or_sender_is_rejected(missing: str):
    params = {k: v for k, v in TWILIO_INBOUND.items() if k != missing}
    with pytest.raises(ValueError):
        twilio().parse_inbound(twilio_request(params))


# --- Vonage ---------------------------------------------------------------------------------------

SECRET = "kx8VhNDh2Pv6wlKIIl2bCC2bqOWmf9ZF"
VONAGE_URL = "https://sms.example.com/carriers/vonage/inbound"
VONAGE_INBOUND = {
    "msisdn": "447700900001",
    "to": "447700900000",
    "messageId": "0A0000000123ABCD1",
    "text": "Stop & go = fine",
    "type": "text",
    "keyword": "STOP",
    "api-key": "abcd1234",
    "message-timestamp": "2026-11-22 12:30:00",
    "timestamp": "1795000000",
}
CONCAT = {"concat": "true", "concat-ref": "08B5", "concat-total": "3", "concat-part": "2"}


def vonage(method: str = "sha256", secret: str = SECRET) -> VonageCarrier:
    return VonageCarrier("abcd1234", "s3cr3t", sender="AcmeInc", signature_secret=secret, signature_method=method)


def oracle_sig(params: dict[str, str], method: str = "sha256") -> str:
    return str(Auth(api_key="abcd1234", signature_secret=SECRET, signature_method=method).sign_params(dict(params)))  # type: ignore[arg-type]


def vonage_request(params: dict[str, str], shape: str = "json") -> CallbackRequest:
    if shape == "json":
        return CallbackRequest(VONAGE_URL, {}, json.dumps(params))
    if shape == "form":
        return CallbackRequest(VONAGE_URL, {}, encode_form(params))
    return CallbackRequest(VONAGE_URL, {}, "", query=params)


def signed(params: dict[str, str], method: str = "sha256") -> dict[str, str]:
    return dict(params, sig=oracle_sig(params, method))


@pytest.mark.parametrize("shape", ["json", "form", "get"])
def test_vonage_signed_inbound_is_read_in_every_shape(shape: str):
    assert vonage().parse_inbound(vonage_request(signed(VONAGE_INBOUND), shape)) == InboundSms(
        carrier_message_id="0A0000000123ABCD1", from_number="+447700900001", to_number="+447700900000", text="Stop & go = fine"
    )


@pytest.mark.parametrize("shape", ["json", "form", "get"])
def test_vonage_signed_inbound_part_is_read_in_every_shape(shape: str):
    sms = vonage().parse_inbound(vonage_request(signed(dict(VONAGE_INBOUND, **CONCAT)), shape))
    assert (sms.carrier_message_id, sms.from_number, sms.concat_ref, sms.concat_total, sms.concat_part) == (
        "0A0000000123ABCD1",
        "+447700900001",
        "08B5",
        3,
        2,
    )


def test_vonage_json_inbound_with_json_typed_concat_fields_is_read():
    body: dict[str, Any] = {**VONAGE_INBOUND, "concat": True, "concat-ref": "08B5", "concat-total": 2, "concat-part": 1}
    body["sig"] = sign(receipt_params(CallbackRequest(VONAGE_URL, {}, json.dumps(body))), SECRET, "sha256")
    sms = vonage().parse_inbound(CallbackRequest(VONAGE_URL, {}, json.dumps(body)))
    assert (sms.concat_ref, sms.concat_total, sms.concat_part) == ("08B5", 2, 1)


@pytest.mark.parametrize("method", ["md5", "sha1", "sha512"])
def test_vonage_inbound_is_verified_with_every_hmac_method(method: str):
    assert vonage(method).parse_inbound(vonage_request(signed(VONAGE_INBOUND, method))).text == "Stop & go = fine"


def test_vonage_an_alphanumeric_to_is_kept_as_given():
    sms = vonage().parse_inbound(vonage_request(signed(dict(VONAGE_INBOUND, to="AcmeInc"))))
    assert (sms.from_number, sms.to_number) == ("+447700900001", "AcmeInc")


@pytest.mark.parametrize(
    "change",
    [{"text": "Stop & go = bad"}, {"msisdn": "447700900002"}, {"timestamp": "1795000001"}, {"sig": "0" * 64}, {"sig": ""}],
)
def test_vonage_tampered_or_unsigned_inbound_is_refused(change: dict[str, str]):
    bad = signed(VONAGE_INBOUND)
    bad.update(change)
    with pytest.raises(SignatureError):
        vonage().parse_inbound(vonage_request(bad))


def test_vonage_inbound_for_another_account_is_refused():
    with pytest.raises(SignatureError, match="another Vonage account"):
        vonage().parse_inbound(vonage_request(signed(dict(VONAGE_INBOUND, **{"api-key": "other"}))))


def test_vonage_without_a_signature_secret_inbound_is_refused():
    with pytest.raises(SignatureError, match="no Vonage signature secret"):
        vonage(secret="").parse_inbound(vonage_request(VONAGE_INBOUND))


@pytest.mark.parametrize("missing", ["messageId", "msisdn"])
def test_vonage_inbound_without_id_or_sender_is_rejected(missing: str):
    params = {k: v for k, v in VONAGE_INBOUND.items() if k != missing}
    with pytest.raises(ValueError):
        vonage().parse_inbound(vonage_request(signed(params)))


@pytest.mark.parametrize(
    "change",
    [
        {"concat-total": "three"},
        {"concat-part": ""},
        {"concat-part": "1.5"},
        {"concat-part": "٢"},  # a digit, but not an ASCII one
        {"concat-part": "0"},
        {"concat-part": "4"},
        {"concat-part": "-1"},
        {"concat-total": "0", "concat-part": "0"},
        {"concat-ref": ""},
    ],
)
def test_vonage_inbound_part_with_bad_concat_fields_is_rejected(change: dict[str, str]):
    params = dict(VONAGE_INBOUND, **CONCAT)
    params.update(change)
    with pytest.raises(ValueError):
        vonage().parse_inbound(vonage_request(signed(params)))


# --- Sandbox --------------------------------------------------------------------------------------


def sandbox_request(body: str, headers: dict[str, str]) -> CallbackRequest:
    return CallbackRequest("http://x/carriers/sandbox/inbound", {k.lower(): v for k, v in headers.items()}, body)


def test_sandbox_signed_inbound_is_read():
    body, headers = inbound_form("k", "SBX1", "+15550001234", "+15005550006", "Hi & bye = ok")
    assert SandboxCarrier("k").parse_inbound(sandbox_request(body, headers)) == InboundSms(
        carrier_message_id="SBX1", from_number="+15550001234", to_number="+15005550006", text="Hi & bye = ok"
    )


@pytest.mark.parametrize("tamper", ["body", "secret", "missing"])
def test_sandbox_tampered_inbound_is_refused(tamper: str):
    body, headers = inbound_form("k", "SBX1", "+15550001234", "+15005550006", "Hi")
    if tamper == "body":
        body = body.replace("Hi", "Ho")
    elif tamper == "secret":
        body, headers = inbound_form("other", "SBX1", "+15550001234", "+15005550006", "Hi")
    else:
        headers = {}
    with pytest.raises(SignatureError):
        SandboxCarrier("k").parse_inbound(sandbox_request(body, headers))


@pytest.mark.parametrize(("message_id", "sender"), [("", "+15550001234"), ("SBX1", "")])
def test_sandbox_inbound_without_id_or_sender_is_rejected(message_id: str, sender: str):
    body, headers = inbound_form("k", message_id, sender, "+15005550006", "Hi")
    with pytest.raises(ValueError):
        SandboxCarrier("k").parse_inbound(sandbox_request(body, headers))


# --- The fakes' inbound webhooks, read back by the adapters ---------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[CallbackRequest]]]:
    """A loopback endpoint recording what it is sent as CallbackRequests."""
    received: list[CallbackRequest] = []
    lock = threading.Lock()
    server: LoopbackServer

    def respond(method: str, path: str, headers: dict[str, str], body: bytes, _: str) -> Reply:
        query = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
        with lock:
            received.append(CallbackRequest(server.base_url + path, headers, body.decode(), query))
        return 204, {}, b""

    server = LoopbackServer(respond).start()
    try:
        yield server.base_url + "/carriers/inbound", received
    finally:
        server.stop()


def test_twilio_fake_inbound_is_read(receiver: tuple[str, list[CallbackRequest]]):
    url, received = receiver
    fake = TwilioFake()
    assert fake.inbound(url, "+15550001234", "+15005550006", "Hello & welcome").status_code == 204
    assert fake.inbound(url, "+15550001234", "+15005550006", "again").status_code == 204
    carrier = TwilioCarrier(fake.account_sid, fake.auth_token, sender="+15005550006")
    first, second = (carrier.parse_inbound(request) for request in received)
    assert (first.from_number, first.to_number, first.text) == ("+15550001234", "+15005550006", "Hello & welcome")
    assert first.carrier_message_id.startswith("SM") and first.carrier_message_id != second.carrier_message_id


@pytest.mark.parametrize(("shape", "method"), [("json", "sha256"), ("form", "md5hash"), ("get", "sha512"), ("json", "md5")])
def test_vonage_fake_inbound_is_read(receiver: tuple[str, list[CallbackRequest]], shape: str, method: str):
    url, received = receiver
    fake = VonageFake(signature_secret=SECRET, signature_method=method, receipt_format=shape)
    fake.inbound(url, "447700900001", "447700900000", "Привет & hello", concat=("08B5", 2, 2), message_id="0A01")
    fake.inbound(url, "447700900001", "447700900000", "stop now")
    carrier = VonageCarrier(
        fake.api_key, fake.api_secret, sender="x", signature_secret=fake.signature_secret, signature_method=fake.signature_method
    )
    part, whole = (carrier.parse_inbound(request) for request in received)
    assert part == InboundSms("0A01", "+447700900001", "+447700900000", "Привет & hello", "08B5", 2, 2)
    assert (whole.text, whole.concat_total, whole.concat_part) == ("stop now", 1, 1)
    fields = [receipt_params(request) for request in received]
    assert [(f["type"], f["keyword"], f.get("concat", "")) for f in fields] == [
        ("unicode", "ПРИВЕТ", "true"),
        ("text", "STOP", ""),
    ]
