"""Failover and routing by destination (issue #21 item 1), on in-memory stand-ins: which carrier a
message goes to, and that only a send the primary provably did not take goes to the fallback."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from b24sms.adapters import carriers
from b24sms.adapters.carriers import (
    CarrierOutcomeUnknown,
    CarrierThrottled,
    CarrierUnreachable,
    OutboundSms,
    PermanentCarrierError,
    SendResult,
    TransientCarrierError,
)
from b24sms.domain import routing
from b24sms.domain.models import CarrierConfig, Portal
from b24sms.usecases import failover

KNOWN = ("sandbox", "twilio", "vonage", "aws", "smsru")


@pytest.fixture(autouse=True)
def deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployment's carrier is the sandbox, with no routing of its own unless a test sets it."""
    monkeypatch.setattr(carriers, "default_name", lambda: "sandbox")
    for name in ("CARRIER_ROUTES", "FALLBACK_CARRIER", "FAILOVER_THROTTLE_WAIT"):
        monkeypatch.delenv(name, raising=False)


# -- the table ---------------------------------------------------------------------------------------


def test_a_region_wins_over_a_calling_code_and_a_calling_code_over_any():
    table = routing.validate(routing.parse("+7=smsru, KZ=vonage, *=twilio, fallback=aws"), KNOWN)
    assert table.carrier_for("RU", 7) == "smsru"
    assert table.carrier_for("KZ", 7) == "vonage"
    assert table.carrier_for("US", 1) == "twilio"
    assert table.fallback == "aws"
    assert routing.validate(routing.parse("+7=smsru"), KNOWN).carrier_for("US", 1) == ""


@pytest.mark.parametrize(
    "text",
    ["+7=nosuch", "Russia=smsru", "+0=smsru", "+1234=twilio", "+7", "fallback=nosuch", "ZZ=twilio"],
)
def test_a_bad_table_is_refused(text: str):
    with pytest.raises(routing.InvalidRouting):
        routing.validate(routing.parse(text), KNOWN, is_region=lambda code: code in ("RU", "KZ", "US"))


def test_regions_are_upper_cased_and_the_table_round_trips():
    table = routing.validate({"ru": "smsru", "fallback": "twilio"}, KNOWN)
    assert table.to_item() == {"RU": "smsru", "fallback": "twilio"}
    assert routing.Routing.from_item(table.to_item()) == table


def test_the_destination_of_a_number():
    assert routing.destination("+79991234567") == ("RU", 7)
    assert routing.destination("+77011234567") == ("KZ", 7)
    assert routing.destination("+15005550006")[1] == 1


# -- the decision ------------------------------------------------------------------------------------

ROUTES = frozenset({"TWILIO_21612"})


@pytest.mark.parametrize(
    ("failure", "waited", "expected"),
    [
        (routing.SendFailure("permanent", "TWILIO_21612"), 0, routing.ROUTE),
        (routing.SendFailure("permanent", "TWILIO_21211"), 0, ""),  # a bad number: no carrier takes it
        (routing.SendFailure("unreachable", "TWILIO_UNREACHABLE"), 0, routing.UNREACHABLE),
        (routing.SendFailure("unknown", "TWILIO_NO_ANSWER"), 999, ""),  # it may have it: never
        (routing.SendFailure("transient", "TWILIO_20500"), 999, ""),  # 5xx: retried on the primary
        (routing.SendFailure("throttled", "TWILIO_429", 5), 10, ""),
        (routing.SendFailure("throttled", "TWILIO_429", 5), 56, routing.THROTTLED),
    ],
)
def test_only_a_send_the_primary_did_not_take_fails_over(failure: routing.SendFailure, waited: float, expected: str):
    assert routing.failover_reason(failure, ROUTES, waited, max_wait=60) == expected


def test_every_carrier_declares_route_codes_it_can_raise():
    for name, spec in carriers.specs().items():
        assert spec.route_codes, name
        assert all(code.startswith(name.upper().replace("_SMS", "")) for code in spec.route_codes), name


# -- sending with stand-in carriers ------------------------------------------------------------------


@dataclass
class StubCarrier:
    name: str
    outcome: Exception | None = None
    sent: list[OutboundSms] = field(default_factory=list)

    def send(self, sms: OutboundSms) -> SendResult:
        self.sent.append(sms)
        if self.outcome:
            raise self.outcome
        return SendResult(f"{self.name}-1")


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> dict[str, StubCarrier]:
    made = {"twilio": StubCarrier("twilio"), "vonage": StubCarrier("vonage")}
    monkeypatch.setattr(carriers, "get_carrier", lambda name, config=None: made[name])
    return made


def send(plan: failover.Route, sms: OutboundSms) -> failover.Sent:
    """As dispatch calls it, with the carriers' builder (stand-ins here)."""
    return failover.send(plan, sms, 0, url, lambda name, config: carriers.get_carrier(name, config))


PLAN = failover.Route(failover.Leg("twilio", None), failover.Leg("vonage", CarrierConfig("vonage", "Acme", credentials="s")))
SMS = OutboundSms("m.1", "+15005550006", "hi", "")


def url(name: str) -> str:
    return f"https://x/carriers/{name}/status"


@pytest.mark.parametrize(
    "refusal",
    [
        PermanentCarrierError("TWILIO_21612", "cannot route"),
        CarrierUnreachable("TWILIO_UNREACHABLE", "ConnectionError: the request never left"),
        CarrierThrottled("TWILIO_429", "slow down", retry_after=120),
    ],
)
def test_the_fallback_sends_what_the_primary_did_not_take(stubs: dict[str, StubCarrier], refusal: Exception):
    stubs["twilio"].outcome = refusal
    sent = send(PLAN, SMS)
    assert sent.carrier.name == "vonage" and sent.result.carrier_message_id == "vonage-1"
    assert sent.config == PLAN.fallback.config if PLAN.fallback else False
    assert sent.failover.startswith(f"{refusal.code} at twilio")  # type: ignore[attr-defined]
    assert len(stubs["twilio"].sent) == 1 and len(stubs["vonage"].sent) == 1
    assert stubs["vonage"].sent[0].status_callback_url == url("vonage")  # its callbacks come to its route


@pytest.mark.parametrize(
    "refusal",
    [
        CarrierOutcomeUnknown("TWILIO_NO_ANSWER", "no answer"),  # it may have it
        PermanentCarrierError("TWILIO_21211", "invalid To"),  # no carrier would take it
        TransientCarrierError("TWILIO_20500", "server error"),  # retried on the primary
        CarrierThrottled("TWILIO_429", "slow down", retry_after=1),  # a short wait
    ],
)
def test_anything_else_never_reaches_the_fallback(stubs: dict[str, StubCarrier], refusal: Exception):
    stubs["twilio"].outcome = refusal
    with pytest.raises(type(refusal)):
        send(PLAN, SMS)
    assert stubs["vonage"].sent == []


def test_both_refusing_fails_with_both_reasons(stubs: dict[str, StubCarrier]):
    stubs["twilio"].outcome = CarrierUnreachable("TWILIO_UNREACHABLE", "refused")
    stubs["vonage"].outcome = PermanentCarrierError("VONAGE_15", "sender not allowed")
    with pytest.raises(PermanentCarrierError) as raised:
        send(PLAN, SMS)
    assert raised.value.code == "VONAGE_15"
    assert "TWILIO_UNREACHABLE" in raised.value.message and "VONAGE_15" in raised.value.message


def test_both_down_is_retried_as_the_fallbacks_transient_error(stubs: dict[str, StubCarrier]):
    stubs["twilio"].outcome = CarrierUnreachable("TWILIO_UNREACHABLE", "refused")
    stubs["vonage"].outcome = CarrierUnreachable("VONAGE_UNREACHABLE", "refused")
    with pytest.raises(TransientCarrierError) as raised:
        send(PLAN, SMS)
    assert "TWILIO_UNREACHABLE" in raised.value.message


def test_without_a_fallback_the_primarys_error_stands(stubs: dict[str, StubCarrier]):
    stubs["twilio"].outcome = PermanentCarrierError("TWILIO_21612", "cannot route")
    with pytest.raises(PermanentCarrierError):
        send(failover.Route(failover.Leg("twilio", None)), SMS)
    assert stubs["vonage"].sent == []


def test_the_throttling_wait_is_a_setting(stubs: dict[str, StubCarrier], monkeypatch: pytest.MonkeyPatch):
    stubs["twilio"].outcome = CarrierThrottled("TWILIO_429", "slow down", retry_after=5)
    monkeypatch.setenv("FAILOVER_THROTTLE_WAIT", "3")
    assert send(PLAN, SMS).carrier.name == "vonage"


# -- which carriers a message's route names ----------------------------------------------------------


def portal(**kwargs: object) -> Portal:
    return Portal("m", "https://p/rest/", **kwargs)  # type: ignore[arg-type]


def test_a_portals_table_routes_by_country_with_its_own_accounts(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CARRIER_ROUTES", "*=aws")  # the deployment's: not for a portal with its own table
    p = portal(
        carrier_config={"carrier": "twilio", "sender": "+15005550006", "credentials": "tw"},
        routing={"+7": "smsru", "fallback": "vonage"},
        carrier_accounts={"smsru": {"credentials": "ru"}},
    )
    to_russia = failover.route(p, "", "+79991234567")
    assert to_russia.primary == failover.Leg("smsru", CarrierConfig("smsru", credentials="ru"))
    assert to_russia.fallback == failover.Leg("vonage", None)  # no account of its own: the deployment's
    to_us = failover.route(p, "", "+15005550007")
    assert to_us.primary == failover.Leg("twilio", p.carrier)


def test_the_deployments_table_serves_portals_on_the_deployments_carrier(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CARRIER_ROUTES", "+7=smsru")
    monkeypatch.setenv("FALLBACK_CARRIER", "vonage")
    plan = failover.route(portal(), "", "+79991234567")
    assert plan == failover.Route(failover.Leg("smsru", None), failover.Leg("vonage", None))
    own = portal(carrier_config={"carrier": "twilio", "credentials": "tw"})
    assert failover.route(own, "", "+79991234567") == failover.Route(failover.Leg("twilio", own.carrier))  # not billed to us


def test_a_sender_with_its_own_carrier_keeps_it(monkeypatch: pytest.MonkeyPatch):
    p = portal(routing={"*": "smsru", "fallback": "vonage"}, senders={"b24sms_1": {"carrier": "twilio", "name": "x"}})
    plan = failover.route(p, "b24sms_1", "+79991234567")
    assert plan.primary.carrier == "twilio" and plan.fallback == failover.Leg("vonage", None)


def test_an_invalid_deployment_table_is_ignored(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CARRIER_ROUTES", "+7=nosuch")
    assert failover.route(portal(), "", "+79991234567") == failover.Route(failover.Leg("sandbox", None))


def test_a_refused_connection_is_told_apart_from_a_lost_answer():
    """``post_once``: nothing listening proves the request never left (``CarrierUnreachable``)."""
    import socket

    from b24sms.adapters.carriers.base import post_once

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(CarrierUnreachable):
        post_once("Twilio", f"http://127.0.0.1:{port}/send", timeout=2)


def test_the_template_offers_every_registered_carrier_as_the_fallback():
    from local.template import Template

    parameters = Template().doc["Parameters"]
    assert sorted(parameters["FallbackCarrier"]["AllowedValues"]) == sorted(["", *carriers.known()])
    environment = Template().doc["Globals"]["Function"]["Environment"]["Variables"]
    assert {"FALLBACK_CARRIER", "CARRIER_ROUTES", "FAILOVER_THROTTLE_WAIT"} <= set(environment)


def test_a_first_carrier_without_settings_fails_over_having_sent_nothing(monkeypatch: pytest.MonkeyPatch):
    vonage = StubCarrier("vonage")

    def build(name: str, config: object = None) -> StubCarrier:
        if name == "twilio":
            raise carriers.UnknownCarrier("carrier 'twilio' is not configured")
        return vonage

    monkeypatch.setattr(carriers, "get_carrier", build)
    sent = send(PLAN, SMS)
    assert sent.carrier.name == "vonage" and vonage.sent and sent.failover == "CARRIER_NOT_CONFIGURED at twilio (unreachable)"
    with pytest.raises(CarrierUnreachable):  # without a fallback: retried later, as a refused connection
        send(failover.Route(failover.Leg("twilio", None)), SMS)


def test_a_routes_account_verifies_its_callbacks():
    p = portal(routing={"fallback": "vonage"}, carrier_accounts={"vonage": {"sender": "Acme", "credentials": "v"}})
    assert CarrierConfig("vonage", "Acme", credentials="v") in p.own_configs()
