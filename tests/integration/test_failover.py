"""Failover over the whole local stack (issue #21 items 1 and 4), counted at the carrier fakes: Twilio
is the deployment's carrier and Vonage its fallback (``FALLBACK_CARRIER``). A send Twilio provably did
not take (connection refused, a route refusal) goes out once through Vonage, whose receipts then
settle it; a connection Twilio dropped after reading the request never fails over; both down fails
with both reasons."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from collections.abc import Iterator
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import pytest

from b24sms.adapters import config, store
from b24sms.domain.models import CarrierConfig
from b24sms.usecases import dispatch, portal_carriers
from local.fakes.twilio import TwilioFake
from local.fakes.vonage import VonageFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until
from tests.integration.test_portal_carrier_cli import NO_CREDENTIALS, portal_carrier

HTTP_TIMEOUT = 2.0
PORTAL_CACHE = dispatch.PORTAL_CACHE_SECONDS


def listening(base_url: str) -> bool:
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    try:
        socket.create_connection((host, port), timeout=0.2).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[TwilioFake, VonageFake]]:
    twilio = TwilioFake().start()
    vonage = VonageFake(signature_secret="failover-signature-secret", signature_method="sha256").start()
    yield twilio, vonage
    twilio.stop()
    vonage.stop()


@pytest.fixture
def pair(fakes: tuple[TwilioFake, VonageFake], stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    twilio, vonage = fakes
    env = {
        "CARRIER": "twilio",
        "FALLBACK_CARRIER": "vonage",
        "HTTP_TIMEOUT": str(HTTP_TIMEOUT),
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_FROM": "+15005550006",
        "TWILIO_API_BASE": twilio.base_url,
        "VONAGE_API_KEY": vonage.api_key,
        "VONAGE_API_SECRET": vonage.api_secret,
        "VONAGE_SIGNATURE_SECRET": vonage.signature_secret,
        "VONAGE_SIGNATURE_METHOD": vonage.signature_method,
        "VONAGE_FROM": "AcmeInc",
        "VONAGE_API_BASE": vonage.base_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config.reset_settings()
    for fake in (twilio, vonage):
        fake.faults.clear()
    yield twilio, vonage
    for fake in (twilio, vonage):
        fake.faults.clear()
        wait_until(partial(listening, fake.base_url), 10)  # a refusal of this test is over
    monkeypatch.undo()
    config.reset_settings()


def test_primary_down_before_sending_the_fallback_delivers_one_sms(portal: EmulatedPortal, emulator: PortalEmulator, pair: Any):
    twilio, vonage = pair
    twilio.refuse_for(3)
    message_id, _ = emulator.send_sms(portal, "+15550190001", "twilio is down")
    key = f"{portal.member_id}.{message_id}"
    assert final_status(portal, message_id, timeout=30) == "delivered", portal.timeline(message_id)
    assert (twilio.received_for(key), vonage.received_for(key)) == (0, 1)
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.carrier == "vonage" and stored.attempts == 1
    assert stored.failover == "TWILIO_UNREACHABLE at twilio (unreachable)"


def test_a_route_refusal_goes_to_the_fallback(portal: EmulatedPortal, emulator: PortalEmulator, pair: Any):
    twilio, vonage = pair
    twilio.fail_next(400, 21408, "Permission to send an SMS has not been enabled for the region")
    message_id, _ = emulator.send_sms(portal, "+15550190002", "no route at twilio")
    key = f"{portal.member_id}.{message_id}"
    assert final_status(portal, message_id, timeout=30) == "delivered", portal.timeline(message_id)
    assert (twilio.received_for(key), vonage.received_for(key)) == (1, 1)
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.carrier == "vonage" and stored.failover.startswith("TWILIO_21408 at twilio (route)")
    # statuses from the fallback are found by its id, as any carrier's
    assert store.messages.find_key_by_carrier_id("vonage", stored.carrier_message_id) == (portal.member_id, message_id)


def test_a_connection_dropped_after_the_request_never_fails_over(portal: EmulatedPortal, emulator: PortalEmulator, pair: Any):
    twilio, vonage = pair
    twilio.faults.next("close")
    message_id, _ = emulator.send_sms(portal, "+15550190003", "twilio may have it")
    key = f"{portal.member_id}.{message_id}"
    assert final_status(portal, message_id, timeout=40) == "failed", portal.timeline(message_id)
    assert (twilio.received_for(key), vonage.received_for(key)) == (1, 0)
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "DISPATCH_INTERRUPTED" and not stored.failover


def test_both_down_fails_with_both_reasons(
    portal: EmulatedPortal, emulator: PortalEmulator, pair: Any, monkeypatch: pytest.MonkeyPatch
):
    twilio, vonage = pair
    monkeypatch.setenv("DISPATCH_MAX_ATTEMPTS", "1")
    config.reset_settings()
    twilio.refuse_for(4)
    vonage.refuse_for(4)
    message_id, _ = emulator.send_sms(portal, "+15550190004", "everyone is down")
    key = f"{portal.member_id}.{message_id}"
    assert final_status(portal, message_id, timeout=30) == "failed", portal.timeline(message_id)
    assert (twilio.received_for(key), vonage.received_for(key)) == (0, 0)
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "VONAGE_UNREACHABLE"
    assert "TWILIO_UNREACHABLE" in stored.error_message and "VONAGE_UNREACHABLE" in stored.error_message


def test_a_portals_own_routing_sends_by_country_and_fails_over(
    stack: LocalStack, portal: EmulatedPortal, emulator: PortalEmulator, pair: Any, monkeypatch: pytest.MonkeyPatch
):
    """Set with `make portal-carrier --routes`: +7 through Vonage, the rest through the deployment's
    carrier (the sandbox here), and Twilio takes what the first refuses as "no route"."""
    twilio, vonage = pair
    monkeypatch.setenv("CARRIER", "sandbox")
    monkeypatch.delenv("FALLBACK_CARRIER")  # the portal's own table decides
    config.reset_settings()
    aws = {"AWS_ENDPOINT_URL": stack.aws_endpoint, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    table = ["--table", stack.table_name("PortalsTable"), "--member-id", portal.member_id]
    done = portal_carrier(*table, "--routes", "+7=vonage, fallback=twilio", env={**NO_CREDENTIALS, **aws})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"+7": "vonage", "fallback": "twilio"}
    refused = portal_carrier(*table, "--routes", "+7=nosuch", env={**NO_CREDENTIALS, **aws})
    assert refused.returncode == 2 and "unknown carrier" in refused.stderr

    sent = {to: emulator.send_sms(portal, to, "routed")[0] for to in ("+79991230001", "+447700900077", "+15550190005")}
    for message_id in sent.values():
        assert final_status(portal, message_id, timeout=30) == "delivered", portal.timeline(message_id)
    carriers = {to: store.messages.get_message(portal.member_id, m) for to, m in sent.items()}
    assert {to: (m.carrier, m.failover) for to, m in carriers.items() if m} == {
        "+79991230001": ("vonage", ""),
        "+447700900077": ("twilio", "SANDBOX_NO_ROUTE at sandbox (route)"),
        "+15550190005": ("sandbox", ""),
    }
    keys = {to: f"{portal.member_id}.{m}" for to, m in sent.items()}
    assert [vonage.received_for(keys[to]) for to in sent] == [1, 0, 0]
    assert [twilio.received_for(keys[to]) for to in sent] == [0, 1, 0]


def test_a_reinstall_keeps_the_portals_routing_and_an_uninstall_forgets_it(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    accounts = [CarrierConfig("twilio", "+15005550006")]
    portal_carriers.configure_routing(portal.member_id, {"+7": "smsru", "fallback": "twilio"}, accounts, check_secret=False)
    emulator.install(portal, f"{stack.base_url}/bitrix/install")
    record = store.portals.get_portal(portal.member_id)
    assert record and record.routing == {"+7": "smsru", "fallback": "twilio"}
    assert record.account("twilio") == CarrierConfig("twilio", "+15005550006")
    emulator.uninstall(portal)
    record = wait_until(lambda: (r := store.portals.get_portal(portal.member_id)) and not r.installed and r, 10)
    assert record.routing == {} and record.carrier_accounts == {}


def test_a_failover_costs_no_aws_request_more_than_a_plain_send(
    stack: LocalStack, portal: EmulatedPortal, emulator: PortalEmulator, pair: Any
):
    """The reason rides the write that records the carrier's id: dispatch makes the same AWS calls."""
    twilio, _ = pair

    def counts() -> Counter[str]:
        found: Counter[str] = Counter()
        for call, n in list(stack.iam.calls.items()):
            if call.function == "DispatchFunction" and call.action != "sqs:ReceiveMessage":  # the poller's, timed
                found[call.action] += n
        return found

    def dispatch_calls(to: str) -> dict[str, int]:
        time.sleep(PORTAL_CACHE + 0.2)  # each send reads the portal afresh
        before = counts()
        message_id, _ = emulator.send_sms(portal, to, "counted")
        assert final_status(portal, message_id, timeout=30) == "delivered", portal.timeline(message_id)
        return dict(counts() - before)

    plain = dispatch_calls("+15550190006")
    twilio.fail_next(400, 21612, "The 'To' phone number is not currently reachable via SMS.")
    moved = dispatch_calls("+15550190007")
    assert moved == plain, (plain, moved)
    assert plain["dynamodb:UpdateItem"] == 2  # the claim, and the write that records the carrier (and why)


def test_throttling_past_the_wait_goes_to_the_fallback(
    portal: EmulatedPortal, emulator: PortalEmulator, pair: Any, monkeypatch: pytest.MonkeyPatch
):
    twilio, vonage = pair
    monkeypatch.setenv("FAILOVER_THROTTLE_WAIT", "0.5")  # Twilio's Retry-After (1 s) is past it
    twilio.fail_next(429, 20429, "Too Many Requests")
    message_id, _ = emulator.send_sms(portal, "+15550190008", "twilio is busy")
    key = f"{portal.member_id}.{message_id}"
    assert final_status(portal, message_id, timeout=30) == "delivered", portal.timeline(message_id)
    assert (twilio.received_for(key), vonage.received_for(key)) == (1, 1)
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.carrier == "vonage" and stored.failover == "TWILIO_20429 at twilio (throttled)"
