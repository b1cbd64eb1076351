"""Two-way SMS in Open Lines, end to end over HTTP: the portal emulator (imconnector), the local stack,
and the carriers' fakes. A customer's reply becomes a chat; an operator's answer goes out as SMS and is
marked delivered; STOP refuses later sends; bad signatures and unknown lines are refused."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import requests

from b24sms import config, storage
from b24sms.carriers.sandbox import inbound_form
from local.fakes.vonage import VonageFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LOCAL_DEFAULTS, LocalStack
from tests.conftest import final_status, wait_until

CONNECTOR = "b24sms_sms"


def connected(emulator: PortalEmulator, portal: EmulatedPortal, line: str = "1") -> EmulatedPortal:
    page = emulator.open_connector_settings(portal, CONNECTOR, line)
    assert page.status_code == 200 and f"connected to Open Line {line}" in page.text, page.text
    assert portal.is_active(CONNECTOR, line)
    return portal


def inbound(stack: LocalStack, sender: str, text: str, to: str = "+15005550006") -> requests.Response:
    body, headers = inbound_form(LOCAL_DEFAULTS["SANDBOX_SECRET"], secrets.token_hex(8), sender, to, text)
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
    reply = storage.get_message(portal.member_id, f"ol1-{im_message_id}")
    assert reply and reply.status == "delivered" and reply.sent_to == customer


def test_stop_refuses_later_sends_until_start(portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack):
    connected(emulator, portal)
    customer = "+15550160002"
    texted(emulator, portal, customer)
    assert inbound(stack, customer, "STOP").status_code == 200
    message_id, _ = emulator.send_sms(portal, customer, "Last chance: 20% off")
    assert final_status(portal, message_id) == "failed"
    stored = storage.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "OPTED_OUT" and "STOP" in stored.error_message
    assert inbound(stack, customer, "start").status_code == 200
    message_id, _ = emulator.send_sms(portal, customer, "Welcome back")
    assert final_status(portal, message_id) == "delivered"


def test_bad_signatures_and_unknown_lines_are_refused(portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack):
    connected(emulator, portal)
    customer = "+15550160003"
    texted(emulator, portal, customer)
    body, headers = inbound_form("not-the-secret", "m1", customer, "+15005550006", "forged")
    forged = requests.post(f"{stack.base_url}/carriers/sandbox/inbound", data=body.encode(), headers=headers, timeout=10)
    assert forged.status_code == 403
    assert emulator.chat_for(portal, CONNECTOR, "1", "15550160003") is None

    # The line goes away: nothing routes there any more.
    assert emulator.delete_line(portal, "1") is not None
    wait_until(lambda: (p := storage.get_portal(portal.member_id)) is not None and not p.openlines)
    assert inbound(stack, customer, "hello?").status_code == 404
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
