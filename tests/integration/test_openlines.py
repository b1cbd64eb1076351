"""Two-way SMS in Open Lines, end to end over HTTP: the portal emulator (imconnector), the local stack,
and the carriers' fakes. A customer's reply becomes a chat; an operator's answer goes out as SMS and is
marked delivered; STOP refuses later sends; bad signatures and unknown lines are refused."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from b24sms.adapters import config, store, telemetry
from b24sms.adapters.carriers.sandbox import inbound_form
from b24sms.domain.models import CarrierConfig
from b24sms.domain.privacy import mask_phone
from b24sms.usecases import portal_carriers
from local.fakes.twilio import TwilioFake
from local.fakes.vonage import VonageFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.settings import LOCAL_DEFAULTS
from local.stack import LocalStack
from tests.conftest import final_status, wait_until

CONNECTOR = "b24sms_sms"


def connected(emulator: PortalEmulator, portal: EmulatedPortal, line: str = "1") -> EmulatedPortal:
    page = emulator.open_connector_settings(portal, CONNECTOR, line)
    assert page.status_code == 200 and f"connected to Open Line {line}" in page.text, page.text
    assert portal.is_active(CONNECTOR, line)
    return portal


def inbound(stack: LocalStack, sender: str, text: str, to: str = "+15005550006", message_id: str = "") -> requests.Response:
    body, headers = inbound_form(LOCAL_DEFAULTS["SANDBOX_SECRET"], message_id or secrets.token_hex(8), sender, to, text)
    return requests.post(f"{stack.base_url}/carriers/sandbox/inbound", data=body.encode(), headers=headers, timeout=10)


def texted(emulator: PortalEmulator, portal: EmulatedPortal, number: str) -> None:
    """The portal sends this customer an SMS first, as in life: their reply finds the portal."""
    message_id, _ = emulator.send_sms(portal, number, "Your order has shipped")
    assert final_status(portal, message_id) == "delivered"


def test_install_registers_the_connector_and_binds_its_events(portal: EmulatedPortal):
    connector = portal.connectors[CONNECTOR]
    assert connector["PLACEMENT_HANDLER"].endswith("/bitrix/connector")
    assert str(connector["ICON"]["DATA_IMAGE"]).startswith("data:image/svg+xml")
    for event in ("ONIMCONNECTORMESSAGEADD", "ONIMCONNECTORLINEDELETE", "ONIMCONNECTORSTATUSDELETE"):
        assert portal.events[event].endswith("/bitrix/events")


def test_a_forged_placement_is_refused(portal: EmulatedPortal, stack: LocalStack):
    form = {"AUTH_ID": "forged", "member_id": portal.member_id, "PLACEMENT_OPTIONS": '{"LINE": 1, "ACTIVE_STATUS": 1}'}
    page = requests.post(f"{stack.base_url}/bitrix/connector", data=form, timeout=10)
    assert page.status_code == 403 and not portal.is_active(CONNECTOR, "1")


def test_a_reply_creates_a_chat_and_the_operator_answer_goes_out_as_sms(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    connected(emulator, portal)
    customer = "+15550160001"
    texted(emulator, portal, customer)
    answer = inbound(stack, customer, "Can I pick it up today?")
    assert answer.status_code == 200 and answer.json() == {"result": "posted"}
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550160001")
    assert chat is not None and chat.texts() == ["Can I pick it up today?"] and chat.user["phone"] == customer

    # A second reply goes to the same chat.
    inbound(stack, customer, "Or tomorrow?")
    assert chat.texts() == ["Can I pick it up today?", "Or tomorrow?"]

    im_message_id, response = emulator.operator_reply(portal, CONNECTOR, "1", "15550160001", "Yes, after 2 pm")
    assert response.status_code == 200 and response.json()["result"] == ["queued"]
    wait_until(lambda: chat.operator_messages[im_message_id].delivered)
    reply = store.messages.get_message(portal.member_id, f"ol1-{im_message_id}")
    assert reply and reply.status == "delivered" and reply.sent_to == customer


def test_stop_refuses_later_sends_until_start(portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack):
    connected(emulator, portal)
    customer = "+15550160002"
    texted(emulator, portal, customer)
    assert inbound(stack, customer, "STOP").status_code == 200
    message_id, _ = emulator.send_sms(portal, customer, "Last chance: 20% off")
    assert final_status(portal, message_id) == "failed"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "OPTED_OUT" and "STOP" in stored.error_message
    assert inbound(stack, customer, "start").status_code == 200
    message_id, _ = emulator.send_sms(portal, customer, "Welcome back")
    assert final_status(portal, message_id) == "delivered"


def test_bad_signatures_are_refused_and_an_sms_with_no_line_is_taken_unrouted(
    portal: EmulatedPortal,
    emulator: PortalEmulator,
    stack: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    connected(emulator, portal)
    customer = "+15550160003"
    texted(emulator, portal, customer)
    body, headers = inbound_form("not-the-secret", "m1", customer, "+15005550006", "forged")
    forged = requests.post(f"{stack.base_url}/carriers/sandbox/inbound", data=body.encode(), headers=headers, timeout=10)
    assert forged.status_code == 403
    assert emulator.chat_for(portal, CONNECTOR, "1", "15550160003") is None

    # The line goes away: nothing routes there any more, but the carrier gets 200 (else it retries for
    # a day); we keep a log line (the number masked) and a metric.
    assert emulator.delete_line(portal, "1") is not None
    wait_until(lambda: (p := store.portals.get_portal(portal.member_id)) is not None and not p.openlines)
    counted: list[str] = []
    monkeypatch.setattr(telemetry, "count", lambda name, value=1: counted.append(name))
    with caplog.at_level(logging.INFO):
        answer = inbound(stack, customer, "hello?")
    assert answer.status_code == 200 and answer.json() == {"result": "unrouted"}
    assert counted == ["InboundUnrouted"]
    [unrouted] = [r for r in caplog.records if "not routed" in r.getMessage()]
    assert getattr(unrouted, "from") == mask_phone(customer)
    assert not [r for r in caplog.records if customer in str(r.__dict__) or "hello?" in str(r.__dict__)]
    assert emulator.chat_for(portal, CONNECTOR, "1", "15550160003") is None


@pytest.fixture
def vonage(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[VonageFake]:
    fake = VonageFake(signature_secret="inbound-secret", signature_method="sha256").start()
    monkeypatch.setenv("VONAGE_API_KEY", fake.api_key)
    monkeypatch.setenv("VONAGE_API_SECRET", fake.api_secret)
    monkeypatch.setenv("VONAGE_SIGNATURE_SECRET", fake.signature_secret)
    monkeypatch.setenv("VONAGE_SIGNATURE_METHOD", fake.signature_method)
    monkeypatch.setenv("VONAGE_FROM", "15005550006")
    monkeypatch.setenv("VONAGE_API_BASE", fake.base_url)
    config.reset_settings()
    yield fake
    monkeypatch.undo()
    config.reset_settings()
    fake.stop()


def test_a_long_vonage_sms_in_parts_3_1_2_becomes_one_message(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, vonage: VonageFake
):
    connected(emulator, portal)
    customer = "+15550160004"
    texted(emulator, portal, customer)
    url = f"{stack.base_url}/carriers/vonage/inbound"
    parts = {1: "Hello, I would like to ", 2: "change the delivery address ", 3: "to 5 Main Street."}
    seen = []
    for n in (3, 1, 2):
        answer = vonage.inbound(url, "15550160004", "15005550006", parts[n], concat=("A7", 3, n))
        assert answer.status_code == 200, answer.text
        seen.append(answer.json()["result"])
    assert seen == ["posted", "updated", "updated"]
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550160004")
    assert chat is not None and len(chat.messages) == 1
    (message,) = chat.messages.values()
    assert message.text == parts[1] + parts[2] + parts[3]
    assert message.history == [parts[3], parts[1] + parts[3], parts[1] + parts[2] + parts[3]]
    # A duplicate part changes nothing; a forged one is refused.
    assert vonage.inbound(url, "15550160004", "15005550006", parts[2], concat=("A7", 3, 2)).json() == {"result": "duplicate"}
    forged = requests.post(
        url, json={"msisdn": "15550160004", "to": "1", "messageId": "X", "text": "hi", "sig": "0" * 64}, timeout=10
    )
    assert forged.status_code == 403
    assert len(message.history) == 3


def test_a_single_part_sms_the_carrier_delivers_twice_is_posted_once(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    connected(emulator, portal)
    customer = "+15550160005"
    texted(emulator, portal, customer)
    first = inbound(stack, customer, "Is the shop open on Sunday?", message_id="sbx-retry-1")
    again = inbound(stack, customer, "Is the shop open on Sunday?", message_id="sbx-retry-1")
    assert (first.json(), again.json()) == ({"result": "posted"}, {"result": "duplicate"})
    # The emulator keeps one message per external id (Bitrix24 itself posts it again): count the calls.
    posts = [c for c in portal.calls_to("imconnector.send.messages") if "sbx-retry-1" in str(c.params)]
    assert len(posts) == 1
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550160005")
    assert chat is not None and chat.texts() == ["Is the shop open on Sunday?"]


def test_a_retried_stop_after_start_does_not_opt_out_again(portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack):
    connected(emulator, portal)
    customer = "+15550160006"
    texted(emulator, portal, customer)
    assert inbound(stack, customer, "STOP", message_id="sbx-stop-1").json() == {"result": "posted"}
    assert inbound(stack, customer, "START", message_id="sbx-start-1").json() == {"result": "posted"}
    assert inbound(stack, customer, "STOP", message_id="sbx-stop-1").json() == {"result": "duplicate"}
    assert not store.chats.is_opted_out(portal.member_id, customer)


def test_a_failed_reply_tells_the_operator_in_the_chat_why(portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack):
    connected(emulator, portal)
    customer = "+15550160007"
    texted(emulator, portal, customer)
    assert inbound(stack, customer, "STOP").json() == {"result": "posted"}
    im_message_id, response = emulator.operator_reply(portal, CONNECTOR, "1", "15550160007", "We miss you!")
    assert response.json()["result"] == ["queued"]
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550160007")
    assert chat is not None
    notice = wait_until(lambda: next((t for t in chat.texts() if "SMS channel" in t), None))
    assert "was not sent" in notice and "STOP" in notice and "[OPTED_OUT]" in notice and customer in notice
    assert not chat.operator_messages[im_message_id].delivered
    reply = store.messages.get_message(portal.member_id, f"ol1-{im_message_id}")
    assert reply and reply.status == "failed" and reply.error_code == "OPTED_OUT"
    wait_until(lambda: (m := store.messages.get_message(portal.member_id, f"ol1-{im_message_id}")) and m.pushed_rank == 2)


def _sandbox_number(member_id: str) -> str:
    return "+1555017" + str(int(member_id[-8:], 16) % 10000).zfill(4)


def test_the_first_sms_to_a_portals_number_finds_it_without_a_scan(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    def no_scan(*args: object) -> None:
        raise AssertionError("PortalsTable scanned to route an inbound SMS")

    monkeypatch.setattr(store.portals, "installed_page", no_scan)
    # The line is connected first, the portal's own number set after: configure keeps the route.
    connected(emulator, portal)
    number = _sandbox_number(portal.member_id)
    portal_carriers.configure(portal.member_id, CarrierConfig("sandbox", number), check_secret=False)
    customer = "+15550160008"  # never texted by any portal
    answer = inbound(stack, customer, "Hi, do you deliver?", to=number)
    assert answer.json() == {"result": "posted"}
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550160008")
    assert chat is not None and chat.texts() == ["Hi, do you deliver?"]
    # Another number of ours that no portal sends from: unrouted, still 200.
    assert inbound(stack, customer, "Hello?", to="+15550179999").json() == {"result": "unrouted"}


def test_connecting_a_line_keeps_the_route_of_the_portals_number(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    # The number is set first (straight in storage, as a portal configured before this version), the
    # line connected after: the connection keeps the route.
    number = _sandbox_number(portal.member_id)
    assert store.portals.set_carrier_config(portal.member_id, CarrierConfig("sandbox", number).to_item())
    connected(emulator, portal)
    customer = "+15550160009"
    assert inbound(stack, customer, "Are you open?", to=number).json() == {"result": "posted"}
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550160009")
    assert chat is not None and chat.texts() == ["Are you open?"]


def test_two_parts_at_the_same_moment_post_one_message_with_both(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, vonage: VonageFake
):
    connected(emulator, portal)
    customer = "+15550160010"
    texted(emulator, portal, customer)
    url = f"{stack.base_url}/carriers/vonage/inbound"
    parts = {1: "Please call me back ", 2: "after six tonight."}
    answers: dict[int, requests.Response] = {}

    def second_part_meanwhile(method: str, params: dict[str, Any]) -> None:
        # Part 1 is about to be posted: part 2 arrives before that post has landed.
        if method == "imconnector.send.messages" and "B9" in str(params) and 2 not in answers:
            answers[2] = requests.Response()  # taken: part 2 is sent once
            worker = threading.Thread(
                target=lambda: answers.update(
                    {2: vonage.inbound(url, "15550160010", "15005550006", parts[2], concat=("B9", 2, 2))}
                )
            )
            worker.start()
            worker.join(15)

    portal.on_call = second_part_meanwhile
    try:
        answers[1] = vonage.inbound(url, "15550160010", "15005550006", parts[1], concat=("B9", 2, 1))
    finally:
        portal.on_call = None
    assert answers[1].status_code == 200 and answers[1].json() == {"result": "posted"}
    assert answers[2].status_code == 200 and answers[2].json() == {"result": "pending"}
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550160010")
    assert chat is not None and len(chat.messages) == 1
    (message,) = chat.messages.values()
    assert message.history == [parts[1], parts[1] + parts[2]]
    assert len([c for c in portal.calls_to("imconnector.send.messages") if "B9" in str(c.params)]) == 1
    # Both parts again (the carrier retries): nothing changes.
    for n in (1, 2):
        again = vonage.inbound(url, "15550160010", "15005550006", parts[n], concat=("B9", 2, n))
        assert again.json() == {"result": "duplicate"}
    assert len(message.history) == 2


@pytest.fixture
def twilio(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioFake]:
    fake = TwilioFake().start()
    monkeypatch.setenv("CARRIER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", fake.account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", fake.auth_token)
    monkeypatch.setenv("TWILIO_FROM", "+15005550006")
    monkeypatch.setenv("TWILIO_API_BASE", fake.base_url)
    config.reset_settings()
    yield fake
    monkeypatch.undo()
    config.reset_settings()
    fake.stop()


def test_twilio_gets_empty_twiml_and_operator_bb_codes_go_out_as_plain_text(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, twilio: TwilioFake
):
    connected(emulator, portal)
    customer = "+15550160011"
    texted(emulator, portal, customer)
    answer = twilio.inbound(f"{stack.base_url}/carriers/twilio/inbound", customer, "+15005550006", "Where is my parcel?")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/xml")
    assert answer.text.endswith("<Response/>")
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550160011")
    assert chat is not None and chat.texts() == ["Where is my parcel?"]

    text = (
        "[b]Anna Smith:[/b][br][quote]Where is my parcel?[/quote]It left today: "
        "[url=https://shop.example/t/42]track it here[/url][br]Ask [user=12]Bob[/user] if it is late."
    )
    im_message_id, _ = emulator.operator_reply(portal, CONNECTOR, "1", "15550160011", text)
    wait_until(lambda: chat.operator_messages[im_message_id].delivered)
    [sent] = [s for s in twilio.sent if s.to == customer and "Anna" in s.body]
    assert sent.body == (
        "Anna Smith:\n> Where is my parcel?\nIt left today: track it here (https://shop.example/t/42)\nAsk Bob if it is late."
    )


def test_an_unrouted_sms_through_sns_is_taken_not_retried(stack: LocalStack):
    event = {
        "originationNumber": "+15550160012",
        "destinationNumber": "+15550179998",  # no portal sends from it, and nobody texted the customer
        "messageBody": "hello?",
        "inboundMessageId": secrets.token_hex(16),
    }
    assert stack.publish("SmsEventsTopic", event) == [{"result": ["unrouted"]}]


def test_a_retry_while_the_sms_is_being_posted_waits_and_a_failed_post_is_retried(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    connected(emulator, portal)
    customer = "+15550160014"
    texted(emulator, portal, customer)
    # The portal is down at the first post: the carrier's retry posts it (the claim was let go).
    portal.down = True
    try:
        first = inbound(stack, customer, "Can I change the size?", message_id="sbx-flaky-1")
    finally:
        portal.down = False
    assert first.status_code == 503, first.text
    assert inbound(stack, customer, "Can I change the size?", message_id="sbx-flaky-1").json() == {"result": "posted"}

    # A retry that comes while the SMS is still being posted is told to come back (503), not taken
    # as done: if that post failed, a 2xx would lose the SMS.
    retried: list[requests.Response] = []

    def retry_meanwhile(method: str, params: dict[str, Any]) -> None:
        if method == "imconnector.send.messages" and "sbx-slow-1" in str(params) and not retried:
            retried.append(inbound(stack, customer, "And the colour?", message_id="sbx-slow-1"))

    portal.on_call = retry_meanwhile
    try:
        assert inbound(stack, customer, "And the colour?", message_id="sbx-slow-1").json() == {"result": "posted"}
    finally:
        portal.on_call = None
    assert retried[0].status_code == 503 and retried[0].json()["error"] == "in_progress"
    assert inbound(stack, customer, "And the colour?", message_id="sbx-slow-1").json() == {"result": "duplicate"}
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550160014")
    assert chat is not None and chat.texts() == ["Can I change the size?", "And the colour?"]
