"""SMS.ru end to end on the local stack, through its own module alone: a portal's administrator checks
the api_id (the balance) and saves it on the page, which then shows the callback URL to register in
SMS.ru's panel (with the secret made for the portal); a CRM SMS goes out through SMS.ru, its status
callbacks (answered ``100``) move it to ``delivered`` on the portal; a callback with a wrong secret is
refused, and another portal's URL cannot move this portal's messages."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import requests

from b24sms.adapters import store
from local.fakes.smsru import SmsRuFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until
from tests.integration.test_app_page_api import call, session_of


@pytest.fixture
def smsru(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmsRuFake]:
    fake = SmsRuFake().start()
    monkeypatch.setenv("SMSRU_API_BASE", fake.base_url)
    yield fake
    fake.stop()


def own_account(stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, fake: SmsRuFake) -> str:
    """Save the portal's own SMS.ru account on the page; the callback URL the page shows."""
    token = session_of(emulator, portal)
    saved = call(stack, token, "carrier-save", carrier="smsru", api_id=fake.api_id, sender="Acme", country="RU")
    assert saved.status_code == 200, saved.text
    shown = re.search(r'id="callback-url">([^<]+)<', emulator.open_app(portal).text)
    assert shown, "the page shows the URL to register in SMS.ru's panel"
    return html.unescape(shown.group(1))


def test_the_pages_check_asks_sms_ru_for_the_balance(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, smsru: SmsRuFake
):
    token = session_of(emulator, portal)
    wrong = call(stack, token, "carrier-check", carrier="smsru", api_id="not-the-api-id")
    assert wrong.status_code == 400 and "SMS.ru refused these credentials" in wrong.json()["error_description"]
    missing = call(stack, token, "carrier-check", carrier="smsru")
    assert missing.status_code == 400 and "API key: fill it in." in missing.json()["error_description"]
    right = call(stack, token, "carrier-check", carrier="smsru", api_id=smsru.api_id)
    assert right.status_code == 200, right.text
    assert "replies need a two-way carrier" in emulator.open_app(portal).text  # SMS.ru is outbound only


def test_a_crm_sms_through_sms_ru_is_delivered_by_its_callbacks(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, smsru: SmsRuFake
):
    url = own_account(stack, emulator, portal, smsru)
    assert url.startswith(f"{stack.base_url}/carriers/smsru/status?portal={portal.member_id}&secret=")
    registered = requests.post(f"{smsru.base_url}/callback/add", data={"api_id": smsru.api_id, "url": url}, timeout=10)
    assert registered.json()["status"] == "OK"  # as an administrator does in SMS.ru's panel

    message_id, _ = emulator.send_sms(portal, "8 (999) 123-45-67", "Через SMS.ru")
    assert final_status(portal, message_id) == "delivered"
    (sent,) = smsru.sent
    assert sent.to == "79991234567" and sent.params["from"] == "Acme" and sent.params["msg"] == "Через SMS.ru"
    message = store.messages.get_message(portal.member_id, message_id)
    assert message and message.carrier == "smsru" and message.carrier_message_id == sent.sms_id
    wait_until(lambda: len(smsru.callbacks) >= 2)
    assert {(status, answer) for _, status, answer in smsru.callbacks} == {(200, "100")}  # else SMS.ru calls again


def test_a_callback_needs_the_portals_secret_and_moves_only_its_messages(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, smsru: SmsRuFake
):
    url = own_account(stack, emulator, portal, smsru)
    smsru.receipts = False  # the test posts the callbacks itself
    message_id, _ = emulator.send_sms(portal, "+79990001122", "без отчётов")
    wait_until(lambda: smsru.sent)
    sms_id = smsru.sent[0].sms_id
    wait_until(lambda: (m := store.messages.get_message(portal.member_id, message_id)) and m.carrier_message_id == sms_id)

    forged = smsru.callback(url.replace("secret=", "secret=x"), (sms_id, "108"))
    assert forged.status_code == 403
    other = emulator.add_portal()
    assert emulator.install(other, f"{stack.base_url}/bitrix/install").status_code == 200
    others_url = own_account(stack, emulator, other, smsru)  # the same SMS.ru account, its own URL and secret
    assert smsru.callback(others_url, (sms_id, "108")).text == "100"
    message = store.messages.get_message(portal.member_id, message_id)
    assert message and message.status == "queued"  # not the other portal's to move (accepted: nothing pushed yet)

    smsru.callback(url, (sms_id, "103"))
    assert final_status(portal, message_id) == "delivered"
    bare = f"{stack.base_url}/carriers/smsru/status?{urlencode({'portal': portal.member_id})}"
    assert smsru.callback(bare, (sms_id, "104")).status_code == 403


def test_the_deployments_own_sms_ru_account_with_its_callback_secret(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, smsru: SmsRuFake, monkeypatch: pytest.MonkeyPatch
):
    """Carrier=smsru: the deployment's api_id sends, and the URL registered in its panel carries the
    deployment's callback secret (``SmsruCallbackSecretParameter``); a message that fails ends
    ``undelivered`` with SMS.ru's code."""
    from b24sms.adapters import config

    secret = "deployment-callback-secret-0123"
    for name, value in {"CARRIER": "smsru", "SMSRU_API_ID": smsru.api_id, "SMSRU_CALLBACK_SECRET": secret}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SMSRU_API_ID_PARAM", raising=False)
    config.reset_settings()
    try:
        smsru.callback_url = f"{stack.base_url}/carriers/smsru/status?{urlencode({'secret': secret})}"
        delivered, _ = emulator.send_sms(portal, "+79991230001", "deployment account")
        failing, _ = emulator.send_sms(portal, "+79991230013", "deployment account, undelivered")
        assert final_status(portal, delivered) == "delivered"
        assert final_status(portal, failing) == "undelivered"
        message = store.messages.get_message(portal.member_id, failing)
        assert message and message.error_code == "SMSRU_107"
        wrong = f"{stack.base_url}/carriers/smsru/status?{urlencode({'secret': secret[:-1]})}"
        assert smsru.callback(wrong, (smsru.sent[0].sms_id, "104")).status_code == 403
    finally:
        monkeypatch.undo()
        config.reset_settings()
