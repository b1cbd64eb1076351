"""SMS.ru, the fifth carrier, through its own module alone: send (at most once, the answer read per
number, its error codes permanent or transient), its status callbacks (a secret in the URL checked
before the body is read, ``data[]`` entries, its codes mapped to Bitrix24's, the route answers ``100``),
the balance as the page's Check, and a callback secret made for a portal that brings its account."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from b24sms import api
from b24sms.adapters import carriers
from b24sms.adapters.carriers import (
    CallbackRequest,
    CarrierOutcomeUnknown,
    OutboundSms,
    PermanentCarrierError,
    SignatureError,
    TransientCarrierError,
    checks,
)
from b24sms.adapters.carriers.smsru import SmsRuCarrier, build
from b24sms.domain.models import CarrierConfig
from b24sms.usecases import page
from local.fakes.faults import MODES
from local.fakes.smsru import SmsRuFake

SECRET = "callback-secret-0123456789"


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("smsru", "checks"):
        monkeypatch.setattr(f"b24sms.adapters.carriers.{module}.get_settings", lambda: SimpleNamespace(http_timeout=1.0))


@pytest.fixture
def fake() -> Iterator[SmsRuFake]:
    server = SmsRuFake(receipts=False).start()
    yield server
    server.stop()


def carrier(fake: SmsRuFake, sender: str = "") -> SmsRuCarrier:
    return SmsRuCarrier(fake.api_id, sender=sender, callback_secret=SECRET, api_base=fake.base_url, timeout=0.5)


def sms(to: str = "+79991234567", body: str = "Привет") -> OutboundSms:
    return OutboundSms("m.1", to, body, "https://example.org/carriers/smsru/status")


def test_a_send_posts_msg_and_json_and_reads_its_numbers_sms_id(fake: SmsRuFake):
    result = carrier(fake, sender="Acme").send(sms())
    (sent,) = fake.sent
    assert result.carrier_message_id == sent.sms_id and result.carrier_status == "accepted"
    assert sent.to == "79991234567" and sent.body == "Привет"
    assert sent.params["msg"] == "Привет" and sent.params["json"] == "1" and sent.params["from"] == "Acme"
    carrier(fake).send(sms(to="+79991234568"))
    assert "from" not in fake.sent[1].params


def test_the_fake_takes_the_text_as_text_too(fake: SmsRuFake):
    status, answer = fake.handle("POST", "/sms/send", urlencode({"api_id": fake.api_id, "to": "79990001122", "text": "t"}))
    assert status == 200 and answer["sms"]["79990001122"]["status"] == "OK"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (207, PermanentCarrierError),  # cannot send to this number
        (202, PermanentCarrierError),
        (209, PermanentCarrierError),  # stop list
        (204, PermanentCarrierError),  # sender name not approved
        (201, TransientCarrierError),  # balance: an operator tops it up
        (220, TransientCarrierError),  # service unavailable
        (500, TransientCarrierError),
    ],
)
def test_one_number_refused_in_an_answer_that_says_ok(fake: SmsRuFake, code: int, kind: type[Exception]):
    fake.fail_next(code, "refused +79991234567")
    with pytest.raises(kind) as caught:
        carrier(fake).send(sms())
    assert caught.value.code == f"SMSRU_{code}"  # type: ignore[attr-defined]
    assert "79991234567" not in caught.value.message  # type: ignore[attr-defined]


def test_a_wrong_api_id_is_account_trouble_not_the_messages(fake: SmsRuFake):
    wrong = SmsRuCarrier("nope", api_base=fake.base_url, timeout=0.5)
    with pytest.raises(TransientCarrierError) as caught:
        wrong.send(sms())
    assert caught.value.code == "SMSRU_200"


@pytest.mark.parametrize("mode", MODES)
def test_a_connection_lost_after_the_request_is_an_unknown_outcome_never_a_second_send(fake: SmsRuFake, mode: str):
    fake.faults.stall_seconds = 0.8  # past the client's 0.5 s
    fake.faults.next(mode)
    with pytest.raises(CarrierOutcomeUnknown) as caught:
        carrier(fake).send(sms())
    assert caught.value.code == "SMSRU_NO_ANSWER" and fake.received_for("+79991234567") == 1


def test_a_refused_connection_is_transient(fake: SmsRuFake):
    fake.refuse_for(2)
    with pytest.raises(TransientCarrierError) as caught:
        carrier(fake).send(sms())
    assert caught.value.code == "SMSRU_UNREACHABLE" and fake.received_for("+79991234567") == 0


def callback(query: dict[str, str], *entries: str) -> CallbackRequest:
    body = urlencode([("data[]", e) for e in entries])
    return CallbackRequest("https://example.org/carriers/smsru/status", {}, body, query)


def test_statuses_map_to_bitrix24_and_other_entries_are_ignored():
    entries = [f"sms_status\n201234-{n}\n{code}" for n, code in enumerate(("100", "101", "102", "103", "110", "104", "150"))]
    reports = carrier_only().parse_status(callback({"secret": SECRET}, "callback_test\n1700000000", *entries))
    assert [(r.carrier_status, r.bitrix_status) for r in reports] == [
        ("100", None), ("101", None), ("102", "sent"), ("103", "delivered"), ("110", "delivered"),
        ("104", "undelivered"), ("150", "undelivered"),
    ]  # fmt: skip
    assert reports[-1].error_code == "SMSRU_150" and reports[3].error_code == ""
    assert reports[0].carrier_message_id == "201234-0" and reports[0].message_key == ""


@pytest.mark.parametrize("undelivered", ["104", "105", "106", "107", "108", "150"])
def test_every_failure_code_is_undelivered(undelivered: str):
    (report,) = carrier_only().parse_status(callback({"secret": SECRET}, f"sms_status\n201234-1\n{undelivered}"))
    assert report.bitrix_status == "undelivered"


def carrier_only(secret: str = SECRET) -> SmsRuCarrier:
    return SmsRuCarrier("api-id", callback_secret=secret)


@pytest.mark.parametrize("query", [{}, {"secret": ""}, {"secret": "wrong"}, {"secret": SECRET + "x"}, {"secret": "сек"}])
def test_the_secret_in_the_url_is_checked_before_the_body_is_read(query: dict[str, str]):
    with pytest.raises(SignatureError):
        carrier_only().parse_status(CallbackRequest("u", {}, "%%% not a form %%%", query))


def test_without_a_secret_nothing_is_believed():
    with pytest.raises(SignatureError):
        carrier_only(secret="").parse_status(callback({"secret": ""}, "sms_status\n201234-1\n103"))


def test_the_deployments_callback_secret_is_read_only_where_callbacks_are(monkeypatch: pytest.MonkeyPatch):
    """Dispatch builds the carrier to send and is not allowed the callback secret's parameter."""
    monkeypatch.setenv("SMSRU_API_ID", "deployment-api-id")
    monkeypatch.delenv("SMSRU_CALLBACK_SECRET", raising=False)
    monkeypatch.setenv("SMSRU_CALLBACK_SECRET_PARAM", "/b24sms/test/smsru-callback")
    read: list[str] = []

    def reading(name: str) -> str:
        read.append(name)
        return "deployed"

    monkeypatch.setattr("b24sms.adapters.carriers.smsru.optional_secret", reading)
    built = build(CarrierConfig("smsru"), {})
    assert read == ["SMSRU_API_ID"]
    assert built.callback_secret == "deployed" and read == ["SMSRU_API_ID", "SMSRU_CALLBACK_SECRET"]


def test_the_status_route_answers_100_as_text():
    answer = api.carrier_answer("smsru", "status", {"result": []})
    assert isinstance(answer, api.XmlResponse) and answer.body == "100"
    assert answer.response()["headers"]["Content-Type"].startswith("text/plain")


def test_the_balance_is_the_check(fake: SmsRuFake, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SMSRU_API_BASE", fake.base_url)
    checks.check("smsru", {"api_id": fake.api_id}, "")
    with pytest.raises(checks.CheckFailed) as caught:
        checks.check("smsru", {"api_id": "wrong"}, "")
    assert caught.value.reason == "bad_credentials" and caught.value.carrier == "SMS.ru"


def test_a_portal_saving_its_account_gets_a_callback_secret_and_the_url_to_register(
    fake: SmsRuFake, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SMSRU_API_BASE", fake.base_url)
    form = page.CarrierForm("smsru", "Acme", "RU", {"api_id": fake.api_id})
    creds = page.check_carrier(form)
    assert creds["api_id"] == fake.api_id and len(creds["callback_secret"]) >= 32
    assert page.check_carrier(form, creds) == creds  # kept once made: the registered URL stays right
    url = carriers.spec("smsru").panel_callback_url("https://b24.example.org", "member-1", creds)  # type: ignore[misc]
    parts = urlsplit(url)
    assert parts.path == "/carriers/smsru/status"
    assert parse_qs(parts.query) == {"portal": ["member-1"], "secret": [creds["callback_secret"]]}


def test_sms_ru_takes_no_inbound_sms_and_the_page_says_so():
    assert not carriers.spec("smsru").two_way
    (form,) = page.carrier_forms(("smsru",))
    assert form == {
        "name": "smsru",
        "fields": [{"key": "api_id", "secret": True, "choices": (), "placeholder": ""}],
        "two_way": False,
    }
    en, ru = page.carrier_texts("en"), page.carrier_texts("ru")
    assert en["carrier.smsru"] == "SMS.ru" and ru["carrier.smsru.api_id"] == "API-ключ (api_id)"
    assert ru["err.SMSRU_201"] == "Недостаточно средств на счёте SMS.ru."


def test_the_cli_learns_the_deployments_sms_ru_callback_secret_from_the_stack(monkeypatch: pytest.MonkeyPatch):
    """A portal's SMS.ru secret without a callback_secret is refused, unless the deployment has one."""
    import os
    from typing import Any

    import boto3

    from tools import portal_carrier

    class CloudFormation:
        def describe_stacks(self, **kwargs: str) -> dict[str, Any]:
            values = {"Stage": "prod", "SmsruCallbackSecretParameter": "smsru-callback-secret"}
            return {"Stacks": [{"Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]}]}

    for name in ("SMSRU_CALLBACK_SECRET_PARAM", "SMSRU_CALLBACK_SECRET"):
        monkeypatch.setenv(name, "")  # so that the test's end restores it, whatever the CLI sets
        monkeypatch.delenv(name)
    assert carriers.unverifiable("smsru", {"api_id": "x"}) == "callback_secret"
    monkeypatch.setattr(boto3, "client", lambda name, **kwargs: CloudFormation())
    portal_carrier._deployment_settings("b24sms-prod")
    assert os.environ.get("SMSRU_CALLBACK_SECRET_PARAM") == "/b24sms/prod/smsru-callback-secret"
    assert carriers.unverifiable("smsru", {"api_id": "x"}) == ""
