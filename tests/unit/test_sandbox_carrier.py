import pytest

from b24sms.adapters.carriers import CallbackRequest, OutboundSms, PermanentCarrierError, SignatureError
from b24sms.adapters.carriers.sandbox import SandboxCarrier, sign
from b24sms.domain.formdata import encode_form


def callback(secret: str, **fields) -> CallbackRequest:
    body = encode_form(fields)
    return CallbackRequest(url="http://x/carriers/sandbox/status", headers={"x-sandbox-signature": sign(secret, body)}, body=body)


def test_signed_callback_is_read_and_mapped():
    carrier = SandboxCarrier("s3cret")
    [report] = carrier.parse_status(callback("s3cret", message_id="SBX1", ref="m.1", status="undelivered", err_code="E"))
    assert (report.carrier_message_id, report.bitrix_status, report.message_key, report.error_code) == (
        "SBX1",
        "undelivered",
        "m.1",
        "E",
    )


def test_accepted_is_not_pushed():
    [report] = SandboxCarrier("k").parse_status(callback("k", message_id="SBX1", status="accepted"))
    assert report.bitrix_status is None


@pytest.mark.parametrize("tamper", ["body", "secret", "missing"])
def test_bad_signatures_are_refused(tamper):
    good = callback("k", message_id="SBX1", ref="m.1", status="delivered")
    if tamper == "body":
        bad = CallbackRequest(good.url, good.headers, good.body.replace("delivered", "failed"))
    elif tamper == "secret":
        bad = callback("other", message_id="SBX1", ref="m.1", status="delivered")
    else:
        bad = CallbackRequest(good.url, {}, good.body)
    with pytest.raises(SignatureError):
        SandboxCarrier("k").parse_status(bad)


def test_numbers_ending_0099_are_rejected_at_send():
    with pytest.raises(PermanentCarrierError) as info:
        SandboxCarrier("k").send(OutboundSms("m.1", "+15550000099", "hi", "http://127.0.0.1:9/x"))
    assert info.value.code == "SANDBOX_REJECTED"
