"""What each SMS cost (issue #20 item 3): read from what the carrier already sends us (the send answer
or a status report, as each carrier's SPEC declares: no extra call per SMS), kept on the message in the
writes that already happen, and summed per portal-day and sender in the day counters' one ADD."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from b24sms.adapters import carriers
from b24sms.adapters.carriers import CallbackRequest, OutboundSms, vonage
from b24sms.adapters.carriers.aws_sms import parse_event
from b24sms.adapters.carriers.sandbox import PRICE, SandboxCarrier, sign
from b24sms.domain import prices, stats
from b24sms.domain.formdata import encode_form
from b24sms.domain.models import Message


def test_prices_are_positive_plain_decimals_and_summed_in_millionths():
    assert prices.amount("-0.00750") == prices.amount("0.0075")  # Twilio's are negative
    assert prices.amount("") is None and prices.amount(None) is None and prices.amount("n/a") is None
    assert prices.amount("NaN") is None and prices.amount(True) is None
    assert prices.total("0.03330000", "0.03330000") == "0.0666"
    assert prices.total(0.00581, 0.00207) == "0.00788"
    assert prices.total(None, "") == ""
    assert prices.micros("0.0079") == 7900 and prices.micros("") == 0
    assert prices.show(15800, "USD") == "0.0158 USD"


def test_each_carrier_declares_where_its_price_comes_from():
    declared = {name: s.price_from for name, s in carriers.specs().items()}
    assert declared == {"sandbox": "report", "twilio": "", "vonage": "send", "aws": "report", "smsru": ""}


def test_vonage_sums_each_segments_message_price_from_the_send_answer(monkeypatch: pytest.MonkeyPatch):
    answer = {
        "message-count": "2",
        "messages": [
            {"status": "0", "message-id": "A1", "message-price": "0.03330000", "remaining-balance": "3.1"},
            {"status": "0", "message-id": "A2", "message-price": "0.03330000", "remaining-balance": "3.0"},
        ],
    }
    response = SimpleNamespace(status_code=200, headers={}, json=lambda: answer)
    monkeypatch.setattr(vonage, "post_once", lambda *a, **k: response)
    carrier = vonage.VonageCarrier("abcd1234", "s3cr3t", sender="AcmeInc", signature_secret="x")
    result = carrier.send(OutboundSms("p.m", "+15550100001", "two parts", "https://cb.example/status"))
    assert (result.price, result.price_unit) == ("0.0666", "EUR")


def test_an_aws_event_carries_message_price_and_carrier_fee_in_dollars():
    event = {
        "messageId": "m-1",
        "messageStatus": "DELIVERED",
        "isFinal": True,
        "totalMessagePrice": 0.00581,
        "totalCarrierFee": 0.00207,
    }
    report = parse_event(event)
    assert (report.price, report.price_unit) == ("0.00788", "USD")
    assert parse_event({"messageId": "m-2", "messageStatus": "PENDING"}).price == ""


def test_the_sandbox_reports_its_price_in_the_signed_callback():
    body = encode_form({"message_id": "SBX1", "ref": "p.m", "status": "delivered", **PRICE})
    request = CallbackRequest("https://x/carriers/sandbox/status", {"x-sandbox-signature": sign("k", body)}, body)
    [report] = SandboxCarrier("k").parse_status(request)
    assert (report.price, report.price_unit) == ("0.0079", "USD")


def final(message_id: str, price: str, unit: str, code: str = "b24sms", status: str = "delivered") -> Message:
    return Message(
        "p", message_id, code=code, status=status, status_rank=2, segments=1, price=price, price_unit=unit, created_at=86400
    )


def test_the_day_counters_add_the_cost_per_currency_and_sender_in_the_same_add():
    counts = stats.tally(
        [
            final("a", "0.0079", "USD"),
            final("b", "0.0079", "USD", code="b24sms_2"),
            final("c", "0.0666", "EUR", status="undelivered"),
            final("d", "", ""),  # no price reported: counted, not costed
            final("test-e", "0.0079", "USD"),  # the page's test SMS: never counted
        ],
        now=86400 + 3600,
    )
    [(key, day)] = counts.items()
    assert key == ("p", "1970-01-02")
    assert day["cost:USD"] == 15800 and day["cost:EUR"] == 66600 and day["sent"] == 4
    assert day["s:b24sms:cost:USD"] == 7900 and day["s:b24sms_2:cost:USD"] == 7900 and day["s:b24sms:cost:EUR"] == 66600
    summary = stats.summarise({"1970-01-02": day}, days=2, today=86400 * 1.5)
    assert summary.totals.cost == {"USD": 15800, "EUR": 66600}
    assert summary.days[-1].cost == {"USD": 15800, "EUR": 66600} and summary.days[0].cost == {}
    assert summary.by_sender["b24sms_2"]["cost:USD"] == 7900
