"""What each carrier declares in its SPEC is complete, and the page and the routes act on it: titles and
field labels in English and Russian, formats checked before the carrier is asked, the carrier's sender
rule, its own answer to its webhooks, and no inbound route for an outbound-only carrier."""

from __future__ import annotations

import re

import pytest

from b24sms import api
from b24sms.adapters import carriers
from b24sms.adapters.carriers import CallbackRequest, UnknownCarrier, checks
from b24sms.usecases import inbound, page

LANGS = ("en", "ru")


@pytest.mark.parametrize("name", carriers.known())
def test_each_carrier_declares_its_title_labels_and_texts_in_both_languages(name: str):
    spec = carriers.spec(name)
    assert all(spec.title.get(lang) for lang in LANGS), name
    for field in spec.fields:
        assert all(field.label.get(lang) for lang in LANGS), (name, field.key)
        if field.pattern:
            re.compile(field.pattern)
        if field.invalid:
            assert all(field.invalid.get(lang) for lang in LANGS), (name, field.key)
    prefix = f"{name.upper()}_"
    for code, texts in spec.error_texts.items():
        assert code.startswith(prefix) and all(texts.get(lang) for lang in LANGS), code
    required = {f.key for f in spec.fields if f.required}
    assert required <= set(spec.secret_keys) or not spec.own_credentials, name


@pytest.fixture
def no_carrier_asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []
    monkeypatch.setattr(checks, "check", lambda name, creds, sender: asked.append(name))
    return asked


def test_a_bad_twilio_account_sid_is_refused_with_twilios_sentence_before_twilio_is_asked(no_carrier_asked: list[str]):
    form = page.CarrierForm("twilio", "+15005550006", "", {"account_sid": "AC123", "auth_token": "t" * 32})
    with pytest.raises(page.FieldErrors) as caught:
        page.check_carrier(form)
    key = "carrier.twilio.account_sid.invalid"
    assert caught.value.problems == [("carrier.twilio.account_sid", key, {})] and no_carrier_asked == []
    assert "32 hexadecimal" in page.carrier_texts("en")[key]
    assert "шестнадцатеричных" in page.carrier_texts("ru")[key]
    good = page.CarrierForm("twilio", "+15005550006", "", {"account_sid": "AC" + "0" * 32, "auth_token": "t" * 32})
    assert page.check_carrier(good) == {"account_sid": "AC" + "0" * 32, "auth_token": "t" * 32}
    assert no_carrier_asked == ["twilio"]


def test_a_choice_not_offered_is_refused(no_carrier_asked: list[str]):
    creds = {"api_key": "k", "api_secret": "s", "signature_secret": "x" * 16, "signature_method": "crc32"}
    with pytest.raises(page.FieldErrors) as caught:
        page.check_carrier(page.CarrierForm("vonage", "Acme", "", creds))
    assert [p[1] for p in caught.value.problems] == ["carrier.vonage.signature_method.invalid"] and no_carrier_asked == []


@pytest.mark.parametrize(("name", "sender"), [("twilio", "acme_sender"), ("vonage", "MG" + "0" * 32), ("smsru", "a")])
def test_each_carriers_own_sender_rule(no_carrier_asked: list[str], name: str, sender: str):
    creds = {f.key: "AC" + "0" * 32 if f.pattern else "x" * 16 for f in carriers.spec(name).fields if f.required}
    with pytest.raises(page.FieldErrors) as caught:
        page.check_carrier(page.CarrierForm(name, sender, "", creds))
    key = f"carrier.{name}.sender.invalid"
    assert caught.value.problems == [("carrier.sender", key, {})]
    assert all(page.carrier_texts(lang)[key] for lang in LANGS)


def test_only_the_chosen_carriers_fields_are_read_from_the_form():
    form = page.parse_carrier_form({"carrier": "smsru", "api_id": "id", "auth_token": "not smsru's", "api_key": "nor this"})
    assert form.credentials == {"api_id": "id"}


def test_each_carrier_gets_the_answer_it_declares():
    twiml = api.carrier_answer("twilio", "inbound", {"result": "x"})
    assert isinstance(twiml, api.XmlResponse) and twiml.body.endswith("<Response/>")
    assert twiml.response()["headers"]["Content-Type"].startswith("text/xml")
    assert api.carrier_answer("vonage", "inbound", {"result": "x"}) == {"result": "x"}
    assert api.carrier_answer("twilio", "status", {"result": []}) == {"result": []}


def test_an_outbound_only_carrier_has_no_inbound_route():
    """Refused (404 at the edge) before anything of the request is read or looked up."""
    with pytest.raises(UnknownCarrier):
        inbound.verified("smsru", CallbackRequest("https://example.org/carriers/smsru/inbound", {}, "%%%"))


def test_every_wrong_field_is_named_at_once_before_the_carrier_is_asked(no_carrier_asked: list[str]):
    form = page.CarrierForm("twilio", "bad sender!", "XX", {"account_sid": "AC123"})
    with pytest.raises(page.FieldErrors) as caught:
        page.check_carrier(form)
    assert caught.value.problems == [
        ("carrier.twilio.account_sid", "carrier.twilio.account_sid.invalid", {}),
        ("carrier.twilio.auth_token", "check.required", {}),
        ("carrier.sender", "check.bad_sender", {}),
        ("carrier.country", "check.bad_country", {"country": "XX"}),
    ]
    assert no_carrier_asked == []
