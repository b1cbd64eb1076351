"""Install, re-install and uninstall, over HTTP, against the portal emulator."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from b24sms.adapters import store
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack


def handler_query(portal: EmulatedPortal) -> dict[str, str]:
    url = portal.senders["b24sms"]["HANDLER"]
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_install_page_registers_the_sender_and_finishes_install(emulator: PortalEmulator, stack: LocalStack):
    p = emulator.add_portal()
    response = emulator.install(p, f"{stack.base_url}/bitrix/install")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "BX24.installFinish()" in response.text
    sender = p.senders["b24sms"]
    assert sender["TYPE"] == "SMS"
    assert sender["NAME"]["en"] and sender["DESCRIPTION"]["de"]
    assert sender["HANDLER"].startswith(f"{stack.base_url}/bitrix/handler?")
    query = handler_query(p)
    assert query["portal"] == p.member_id and len(query["key"]) >= 32
    assert p.events["ONAPPUNINSTALL"] == f"{stack.base_url}/bitrix/events"
    stored = store.portals.get_portal(p.member_id)
    assert stored and stored.installed
    assert stored.client_endpoint == p.client_endpoint
    assert stored.application_token == p.application_token
    assert stored.access_token in p.access_tokens


def test_onappinstall_event_installs_too(emulator: PortalEmulator, stack: LocalStack):
    p = emulator.add_portal()
    response = emulator.install(p, f"{stack.base_url}/bitrix/install", via="event")
    assert response.status_code == 200
    assert response.json() == {"result": True, "member_id": p.member_id}
    assert "b24sms" in p.senders


def test_reinstall_updates_the_sender_and_keeps_its_url(portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack):
    first_handler = portal.senders["b24sms"]["HANDLER"]
    response = emulator.install(portal, f"{stack.base_url}/bitrix/install", via="event")
    assert response.status_code == 200
    assert [c.error for c in portal.calls_to("messageservice.sender.add")] == ["", "ERROR_SENDER_ALREADY_INSTALLED"]
    assert len(portal.calls_to("messageservice.sender.update")) == 1
    assert list(portal.senders) == ["b24sms"]
    assert portal.senders["b24sms"]["HANDLER"] == first_handler


def test_forged_install_is_refused_and_nothing_stored(emulator: PortalEmulator, stack: LocalStack):
    victim = emulator.add_portal()
    form = {
        "AUTH_ID": "x",
        "AUTH_EXPIRES": "3600",
        "REFRESH_ID": "not-a-real-refresh-token",
        "member_id": victim.member_id,
        "APPLICATION_TOKEN": "attacker",
    }
    response = requests.post(f"{stack.base_url}/bitrix/install", data=form, params={"DOMAIN": "evil.example"}, timeout=10)
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/html")  # the install page: a person reads it
    assert "could not be installed: install not confirmed by the OAuth server" in response.text
    assert store.portals.get_portal(victim.member_id) is None


def test_a_valid_refresh_token_of_one_portal_cannot_take_over_another(emulator: PortalEmulator, stack: LocalStack):
    """The takeover the member_id check exists for: the OAuth server accepts the token, but names A."""
    a, b = emulator.add_portal(), emulator.add_portal()
    for p in (a, b):
        assert emulator.install(p, f"{stack.base_url}/bitrix/install").status_code == 200
    before_a, before_b = store.portals.get_portal(a.member_id), store.portals.get_portal(b.member_id)
    with emulator.lock:
        _, refresh_of_a = a.issue_tokens()  # fresh and valid: the OAuth server will answer for A
    refreshes = a.refreshes
    form = {
        "AUTH_ID": "x",
        "AUTH_EXPIRES": "3600",
        "REFRESH_ID": refresh_of_a,
        "member_id": b.member_id,
        "APPLICATION_TOKEN": "attacker",
    }
    response = requests.post(f"{stack.base_url}/bitrix/install", data=form, params={"DOMAIN": b.domain}, timeout=10)
    assert response.status_code == 403
    assert "the OAuth server names another portal" in response.text
    assert a.refreshes == refreshes + 1  # the token was spent: the comparison really ran
    assert store.portals.get_portal(b.member_id) == before_b
    assert store.portals.get_portal(a.member_id) == before_a


def test_a_forged_onappinstall_event_gets_a_json_403(emulator: PortalEmulator, stack: LocalStack):
    victim = emulator.add_portal()
    form = {
        "event": "ONAPPINSTALL",
        "auth[member_id]": victim.member_id,
        "auth[refresh_token]": "forged",
        "auth[application_token]": "x",
    }
    response = requests.post(f"{stack.base_url}/bitrix/install", data=form, timeout=10)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert store.portals.get_portal(victim.member_id) is None


def test_install_with_missing_fields_is_a_clear_400(stack: LocalStack):
    response = requests.post(f"{stack.base_url}/bitrix/install", data={"AUTH_ID": "x"}, timeout=10)
    assert response.status_code == 400
    assert "install request is missing: application_token, member_id, refresh_token" in response.text


def test_uninstall_locks_the_portal_out(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HANDLER_PORTAL_CACHE", "1")  # a warm HANDLER keeps the portal this long (default 5 s)
    handler = portal.senders["b24sms"]["HANDLER"]
    message_id, sent = emulator.send_sms(portal, "+15550001111", "before uninstall")
    assert sent.status_code == 200
    token = portal.application_token
    response = emulator.uninstall(portal, clean=False)
    assert response is not None and response.status_code == 200
    stored = store.portals.get_portal(portal.member_id)
    assert stored and not stored.installed
    assert not stored.access_token and not stored.refresh_token and not stored.handler_secret
    assert store.messages.get_message(portal.member_id, message_id) is not None  # kept: CLEAN was not asked
    # The old HANDLER URL is dead once the warm HANDLER's portal runs out, and so is the application token.
    time.sleep(1.1)
    late = requests.post(handler, data={"message_id": "f" * 32, "message_to": "+15550001111", "message_body": "x"}, timeout=10)
    assert late.status_code == 401
    again = requests.post(
        f"{stack.base_url}/bitrix/events",
        data={"event": "ONAPPUNINSTALL", "auth[member_id]": portal.member_id, "auth[application_token]": token},
        timeout=10,
    )
    assert again.status_code == 403


def test_uninstall_with_clean_erases_the_portals_messages(portal: EmulatedPortal, emulator: PortalEmulator):
    message_id, _ = emulator.send_sms(portal, "+15550001112", "to be erased")
    assert store.messages.get_message(portal.member_id, message_id) is not None
    response = emulator.uninstall(portal, clean=True)
    assert response is not None and response.status_code == 200
    assert store.messages.get_message(portal.member_id, message_id) is None


def test_events_with_a_wrong_application_token_are_refused(portal: EmulatedPortal, stack: LocalStack):
    response = requests.post(
        f"{stack.base_url}/bitrix/events",
        data={
            "event": "ONAPPUNINSTALL",
            "data[CLEAN]": "1",
            "auth[member_id]": portal.member_id,
            "auth[application_token]": "wrong",
        },
        timeout=10,
    )
    assert response.status_code == 403
    stored = store.portals.get_portal(portal.member_id)
    assert stored and stored.installed
