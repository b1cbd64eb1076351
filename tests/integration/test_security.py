"""Every inbound call is authenticated; bad input gets a clear 400; refused calls change nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
import requests

from b24sms.adapters import store
from b24sms.adapters.carriers.sandbox import SandboxCarrier
from b24sms.domain.formdata import encode_form
from b24sms.domain.privacy import mask_phone
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def sms_form(portal: EmulatedPortal, message_id: str, **extra: str) -> str:
    fields = {"message_id": message_id, "message_to": "+15550009999", "message_body": "hi", "code": "b24sms", "type": "SMS"}
    fields.update(extra)
    return encode_form(fields)


def handler(portal: EmulatedPortal) -> str:
    return str(portal.senders["b24sms"]["HANDLER"])


def nothing_recorded(portal: EmulatedPortal, message_id: str) -> bool:
    key = f"{portal.member_id}.{message_id}"
    return store.messages.get_message(portal.member_id, message_id) is None and all(k != key for k, _ in SandboxCarrier.outbox)


@pytest.mark.parametrize(
    "query",
    ["portal={member}&key=wrong", "portal={member}", "key=whatever", ""],
    ids=["wrong-key", "no-key", "no-portal", "none"],
)
def test_wrong_or_missing_secret_is_401_and_nothing_is_stored(portal: EmulatedPortal, stack: LocalStack, query: str):
    url = f"{stack.base_url}/bitrix/handler?" + query.format(member=portal.member_id)
    message_id = "a1" * 16
    response = requests.post(url, data=sms_form(portal, message_id), headers=FORM, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert nothing_recorded(portal, message_id)


@pytest.mark.parametrize("part", ["first-character", "all-but-the-last-character"])
def test_part_of_the_real_secret_is_401_and_nothing_is_stored(portal: EmulatedPortal, stack: LocalStack, part: str):
    key = urlsplit(handler(portal)).query.split("key=")[1]
    partial = key[:1] if part == "first-character" else key[:-1]
    message_id = ("c5" if part == "first-character" else "c6") * 16
    url = f"{stack.base_url}/bitrix/handler?portal={portal.member_id}&key={partial}"
    response = requests.post(url, data=sms_form(portal, message_id), headers=FORM, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert nothing_recorded(portal, message_id)


def test_secret_of_another_portal_is_refused(emulator: PortalEmulator, portal: EmulatedPortal, stack: LocalStack):
    other = emulator.add_portal()
    emulator.install(other, f"{stack.base_url}/bitrix/install")
    other_key = urlsplit(handler(other)).query.split("key=")[1]
    url = f"{stack.base_url}/bitrix/handler?portal={portal.member_id}&key={other_key}"
    response = requests.post(url, data=sms_form(portal, "b2" * 16), headers=FORM, timeout=10)
    assert response.status_code == 401


def test_wrong_application_token_in_auth_is_403_and_nothing_is_stored(portal: EmulatedPortal):
    message_id = "b3" * 16
    body = sms_form(portal, message_id, **{"auth[member_id]": portal.member_id, "auth[application_token]": "forged"})
    response = requests.post(handler(portal), data=body, headers=FORM, timeout=10)
    assert response.status_code == 403
    assert nothing_recorded(portal, message_id)


def test_auth_of_another_portal_is_403(portal: EmulatedPortal):
    body = sms_form(portal, "b4" * 16, **{"auth[member_id]": "someone-else", "auth[application_token]": portal.application_token})
    assert requests.post(handler(portal), data=body, headers=FORM, timeout=10).status_code == 403


@pytest.mark.parametrize(
    ("body", "content_type", "expect"),
    [
        ("", "application/x-www-form-urlencoded", "empty body"),
        (b"message_id=\xff\xfe", "application/x-www-form-urlencoded", "not valid"),
        ('{"message_id": "x"}', "application/json", "application/x-www-form-urlencoded"),
        ("message_id=abc&message_body=hi", "application/x-www-form-urlencoded", "message_to"),
        ("message_id=abc&message_to=%2B1555", "application/x-www-form-urlencoded", "message_body"),
        ("message_id=bad id!&message_to=%2B1555&message_body=x", "application/x-www-form-urlencoded", "message_id"),
        (
            "message_id=abc&message_to=%2B1555&message_body=x&code=other",
            "application/x-www-form-urlencoded",
            "unknown sender code",
        ),
    ],
    ids=["empty", "not-utf8", "json", "no-to", "no-body", "bad-id", "foreign-code"],
)
def test_malformed_bodies_get_a_clear_400(portal: EmulatedPortal, body, content_type: str, expect: str):
    response = requests.post(handler(portal), data=body, headers={"Content-Type": content_type}, timeout=10)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["error"] in ("bad_request", "unsupported_media_type")
    assert expect in payload["error_description"]


def test_status_callback_with_a_bad_signature_is_403_and_changes_nothing(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    message_id, _ = emulator.send_sms(portal, "+15550008000", "hello")
    from tests.conftest import final_status

    assert final_status(portal, message_id) == "delivered"
    before = store.messages.get_message(portal.member_id, message_id)
    assert before
    body = encode_form({"message_id": before.carrier_message_id, "ref": before.key, "status": "failed"})
    for headers in ({"X-Sandbox-Signature": "0" * 64}, {}):
        response = requests.post(f"{stack.base_url}/carriers/sandbox/status", data=body, headers={**FORM, **headers}, timeout=10)
        assert response.status_code == 403
        assert response.json()["error"] == "bad_signature"
    after = store.messages.get_message(portal.member_id, message_id)
    assert after and after.status == before.status == "delivered" and after.history == before.history


def test_unknown_carrier_is_404(stack: LocalStack):
    response = requests.post(f"{stack.base_url}/carriers/nope/status", data="a=1", headers=FORM, timeout=10)
    assert response.status_code == 404


def b24sms_logs(caplog: pytest.LogCaptureFixture, action: Callable[[], None]) -> str:
    """What the b24sms loggers print (as Lambda prints them: Powertools' JSON) while ``action`` runs."""
    loggers = [logging.getLogger(n) for n in list(logging.root.manager.loggerDict) if n.startswith("b24sms")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.INFO)
    try:
        with caplog.at_level(logging.INFO):
            action()
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
    formatter = logging.getLogger("b24sms").handlers[0].formatter
    assert formatter is not None
    return "\n".join(formatter.format(r) for r in caplog.records if r.name.startswith("b24sms"))


def test_logs_never_hold_the_phone_number_or_the_text(portal: EmulatedPortal, emulator: PortalEmulator, caplog):
    from tests.conftest import final_status

    sent: list[str] = []

    def send() -> None:
        message_id, _ = emulator.send_sms(portal, "+15557654321", "secret words in the text")
        sent.append(message_id)
        assert final_status(portal, message_id) == "delivered"

    logs = b24sms_logs(caplog, send)
    message_id = sent[0]
    assert "message accepted" in logs and message_id in logs  # the logs are there, correlated
    assert f'"message_id":"{message_id}"' in logs
    assert mask_phone("+15557654321") in logs
    assert "+15557654321" not in logs and "7654321" not in logs
    assert "secret words" not in logs


@pytest.mark.parametrize(
    ("number", "error_code"),
    [
        ("+1555098765432109", "INVALID_NUMBER"),  # too long to be a phone number: refused before any carrier
        ("+15557650099", "SANDBOX_REJECTED"),  # the carrier refuses it, with the whole number in its text
    ],
    ids=["impossible-number", "carrier-refusal"],
)
def test_failed_sends_log_and_store_the_number_only_masked(
    portal: EmulatedPortal, emulator: PortalEmulator, caplog, number: str, error_code: str
):
    from tests.conftest import final_status

    sent: list[str] = []

    def send() -> None:
        message_id, _ = emulator.send_sms(portal, number, "secret words in the text")
        sent.append(message_id)
        assert final_status(portal, message_id) == "failed"

    logs = b24sms_logs(caplog, send)
    stored = store.messages.get_message(portal.member_id, sent[0])
    assert stored and stored.error_code == error_code
    failed = [line for line in logs.splitlines() if "message failed" in line]
    assert failed and error_code in failed[0] and mask_phone(number) in failed[0]
    tail = number[-7:]  # enough of the number to dial it with the country and area codes
    assert tail not in logs and tail not in stored.error_message
    assert "secret words" not in logs
