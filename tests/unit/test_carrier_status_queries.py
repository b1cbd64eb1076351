"""Each carrier's status query (the reconciler asks it when a callback is late), against its fake: what
the carrier holds becomes the report a callback would have carried, with our key; an id the carrier does
not know is None; a failure to ask is a TransientCarrierError (asked again at the next interval); a
carrier without a query is asked nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from b24sms.adapters import carriers
from b24sms.adapters.carriers import OutboundSms, TransientCarrierError
from b24sms.adapters.carriers.sandbox import SandboxCarrier
from b24sms.adapters.carriers.smsru import SmsRuCarrier
from b24sms.adapters.carriers.twilio import TwilioCarrier
from local.fakes.smsru import SmsRuFake
from local.fakes.twilio import TwilioFake


@pytest.fixture
def twilio() -> Iterator[TwilioFake]:
    fake = TwilioFake(drop_callbacks=True).start()
    yield fake
    fake.stop()


@pytest.fixture
def smsru() -> Iterator[SmsRuFake]:
    fake = SmsRuFake(receipts=False).start()
    yield fake
    fake.stop()


def sms(to: str) -> OutboundSms:
    return OutboundSms("portal.m1", to, "hello", "http://127.0.0.1:9/carriers/x/status")


def test_twilio_fetches_the_message_resource(twilio: TwilioFake):
    carrier = TwilioCarrier(twilio.account_sid, twilio.auth_token, sender="+15005550006", api_base=twilio.base_url)
    delivered = carrier.send(sms("+15550100001")).carrier_message_id
    failed = carrier.send(sms("+15550100013")).carrier_message_id
    report = carriers.query_status(carrier, delivered, "portal.m1")
    assert report and (report.bitrix_status, report.carrier_status, report.message_key) == ("delivered", "delivered", "portal.m1")
    report = carriers.query_status(carrier, failed, "portal.m2")
    assert report and report.bitrix_status == "undelivered" and report.error_code == "TWILIO_30003"
    assert carriers.query_status(carrier, "SM" + "0" * 32, "portal.m3") is None  # 404: Twilio does not know it
    assert twilio.fetched == [delivered, failed, "SM" + "0" * 32]
    wrong = TwilioCarrier(twilio.account_sid, "not-the-token", sender="+15005550006", api_base=twilio.base_url)
    with pytest.raises(TransientCarrierError):  # 401: could not ask
        carriers.query_status(wrong, delivered, "portal.m1")


def test_sms_ru_asks_sms_status(smsru: SmsRuFake):
    carrier = SmsRuCarrier(smsru.api_id, api_base=smsru.base_url)
    delivered = carrier.send(sms("+79990000001")).carrier_message_id
    failed = carrier.send(sms("+79990000013")).carrier_message_id
    report = carriers.query_status(carrier, delivered, "portal.m1")
    assert report and (report.bitrix_status, report.carrier_status, report.message_key) == ("delivered", "103", "portal.m1")
    report = carriers.query_status(carrier, failed, "portal.m2")
    assert report and report.bitrix_status == "undelivered" and report.error_code == "SMSRU_107"
    assert carriers.query_status(carrier, "000000-1", "portal.m3") is None  # -1: not found
    assert smsru.queried == [delivered, failed, "000000-1"]
    with pytest.raises(TransientCarrierError):  # an answer without our id: could not ask
        carriers.query_status(SmsRuCarrier("wrong", api_base=smsru.base_url), delivered, "portal.m1")


def test_the_sandbox_answers_from_its_outbox_and_can_drop_its_callbacks(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(SandboxCarrier, "drop_callbacks", True)
    carrier = SandboxCarrier("secret", timeout=0.2)
    sent = carrier.send(sms("+15550100013")).carrier_message_id  # no callback posted (the URL would refuse)
    report = carriers.query_status(carrier, sent, "portal.m1")
    assert report and report.bitrix_status == "undelivered" and report.error_code == "SANDBOX_UNREACHABLE"
    assert carriers.query_status(carrier, "SBXnone", "portal.m1") is None


def test_which_carriers_can_be_asked():
    rates = {name: carriers.status_query_rate(name) for name in carriers.known()}
    assert {name for name, rate in rates.items() if rate > 0} == {"sandbox", "twilio", "smsru"}
    for name, spec in carriers.specs().items():
        adapter_has_query = name in {"sandbox", "twilio", "smsru"}
        assert (spec.status_queries_per_second > 0) == adapter_has_query, name
        assert spec.delivery_time >= 60


def test_the_status_queries_carry_the_price_as_the_carriers_report_it(twilio: TwilioFake, smsru: SmsRuFake):
    carrier = TwilioCarrier(twilio.account_sid, twilio.auth_token, sender="+15005550006", api_base=twilio.base_url)
    sid = carrier.send(sms("+15550100001")).carrier_message_id
    report = carriers.query_status(carrier, sid, "portal.m1")
    assert report and (report.price, report.price_unit) == ("0.0079", "USD")  # Twilio's "-0.00790", kept positive
    twilio.price = None  # not known yet: Twilio's null
    report = carriers.query_status(carrier, sid, "portal.m1")
    assert report and (report.price, report.price_unit) == ("", "")
    ru = SmsRuCarrier(smsru.api_id, api_base=smsru.base_url)
    report = carriers.query_status(ru, ru.send(sms("+79990000001")).carrier_message_id, "portal.m1")
    assert report and (report.price, report.price_unit) == ("1.5", "RUB")


def test_only_carriers_with_a_status_query_and_no_price_of_their_own_fetch_it():
    fetched = {name for name in carriers.known() if carriers.price_after(name) > 0}
    assert fetched == {"twilio", "smsru"}
    for name in fetched:
        assert not carriers.spec(name).price_from  # the price comes from nowhere else
