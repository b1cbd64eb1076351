"""Issue #17, defect 4: an application update removes every messageservice sender of the app (Bitrix24's
core: ``RestService::onRestAppUpdate`` calls ``onRestAppDelete``), and may drop its event bindings
and Open Lines connector. On ONAPPUPDATE the app restores all of it, and SMS go out again. And the
emulator's other lifecycle fault: a portal that refuses connections for a while."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from b24sms.adapters import store
from b24sms.usecases import bitrix_events, connector
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, sync_portals, wait_until

CONNECTOR = "b24sms_sms"


def _with_line_and_second_sender(emulator: PortalEmulator, portal: EmulatedPortal) -> None:
    """An Open Line connected by the admin, and a second sender added on the application's page."""
    assert emulator.open_connector_settings(portal, CONNECTOR, "1").status_code == 200
    assert store.portals.save_senders(portal.member_id, {"b24sms_2": {"name": "Second"}})


def test_onappupdate_restores_senders_bindings_and_connector(portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack):
    _with_line_and_second_sender(emulator, portal)
    record = store.portals.get_portal(portal.member_id)
    assert record is not None

    response = emulator.update_app(portal, drop_bindings=True, drop_connector=True)

    # Before the fix no handler was bound for ONAPPUPDATE: nothing reached the app, no sender was left.
    assert response is not None, "ONAPPUPDATE is not bound: the portal has no SMS provider after an update"
    assert response.status_code == 200, response.text
    assert sorted(portal.senders) == ["b24sms", "b24sms_2"]  # the same CODEs
    for sender in portal.senders.values():
        query = {k: v[0] for k, v in parse_qs(urlsplit(sender["HANDLER"]).query).items()}
        assert query == {"portal": portal.member_id, "key": record.handler_secret}  # the same secret
    assert portal.senders["b24sms_2"]["NAME"]["en"] == "Second"
    assert portal.events == {name: bitrix_events.events_url() for name in bitrix_events.REGISTRY}  # ONAPPUPDATE again too
    assert portal.connectors[CONNECTOR]["PLACEMENT_HANDLER"] == connector.placement_url()
    assert portal.is_active(CONNECTOR, "1")  # the line the admin had connected
    # The fresh token pair the event carried is the one the app now uses.
    stored = store.portals.get_portal(portal.member_id)
    assert stored and stored.token_version == record.token_version + 1
    assert stored.refresh_token != record.refresh_token and stored.refresh_token in portal.refresh_tokens

    message_id, sent = emulator.send_sms(portal, "+15550001234", "after the update")
    assert sent.status_code == 200
    assert final_status(portal, message_id) == "delivered"
    second, _ = emulator.send_sms(portal, "+15550001235", "second sender", code="b24sms_2")
    assert final_status(portal, second) == "delivered"


def test_onappupdate_is_cheap_and_idempotent_when_bindings_survive(portal: EmulatedPortal, emulator: PortalEmulator):
    first = emulator.update_app(portal)  # the documented part only: senders and installer handlers go
    assert first is not None and first.status_code == 200, first and first.text
    assert list(portal.senders) == ["b24sms"]
    before = len(portal.calls)

    again = emulator.update_app(portal)
    assert again is not None and again.status_code == 200
    methods = [c.method for c in portal.calls[before:]]
    # Nothing else moved: the sender is added back and the rest is only looked at.
    assert methods == ["messageservice.sender.list", "messageservice.sender.add", "event.get", "imconnector.list"]
    assert set(portal.events) == set(bitrix_events.REGISTRY)


def test_a_forged_onappupdate_changes_nothing(portal: EmulatedPortal, stack: LocalStack):
    before = store.portals.get_portal(portal.member_id)
    form = {
        "event": "ONAPPUPDATE",
        "auth[member_id]": portal.member_id,
        "auth[application_token]": "forged",
        "auth[access_token]": "attacker",
        "auth[refresh_token]": "attacker",
    }
    response = requests.post(f"{stack.base_url}/bitrix/events", data=form, timeout=10)
    assert response.status_code == 403
    assert store.portals.get_portal(portal.member_id) == before


def test_the_sender_sync_binds_onappupdate_on_a_portal_installed_before_it_existed(portal: EmulatedPortal, stack: LocalStack):
    del portal.events["ONAPPUPDATE"]  # installed by a version that did not bind it
    before = len(portal.calls)
    sync_portals(stack, portal)
    assert portal.events["ONAPPUPDATE"] == bitrix_events.events_url()
    assert [(c.method, c.params.get("event")) for c in portal.calls[before:] if c.method.startswith("event.")] == [
        ("event.get", None),
        ("event.bind", "ONAPPUPDATE"),
    ]
    assert not [
        c
        for c in portal.calls[before:]
        if c.method.startswith("messageservice.sender.") and c.method != "messageservice.sender.list"
    ]


def test_a_portal_that_refuses_connections_gets_its_status_once_it_accepts_again(emulator: PortalEmulator, stack: LocalStack):
    p = emulator.own_endpoint(emulator.add_portal())
    assert emulator.install(p, f"{stack.base_url}/bitrix/install").status_code == 200
    assert store.portals.get_portal(p.member_id).client_endpoint == p.client_endpoint  # type: ignore[union-attr]
    emulator.refuse_connections(p)
    try:
        message_id, sent = emulator.send_sms(p, "+15550001236", "while the portal refuses connections")
        assert sent.status_code == 200  # the HANDLER call comes from the portal's side: it still reaches us
        wait_until(lambda: (m := store.messages.get_message(p.member_id, message_id)) and m.status == "delivered")
        time.sleep(2)  # pushes tried and deferred meanwhile (connection refused)
        stored = store.messages.get_message(p.member_id, message_id)
        assert stored and stored.pushed_rank < stored.status_rank and p.timeline(message_id) == ["sent"]
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{p.client_endpoint}app.info", timeout=2)
    finally:
        emulator.accept_connections(p)
    assert final_status(p, message_id, timeout=40) == "delivered"


def test_an_update_that_grants_the_open_lines_scopes_registers_the_connector(emulator: PortalEmulator, stack: LocalStack):
    p = emulator.add_portal()
    p.scopes = {"messageservice"}
    assert emulator.install(p, f"{stack.base_url}/bitrix/install").status_code == 200
    assert not p.connectors and set(p.events) == {"ONAPPUNINSTALL", "ONAPPUPDATE"}
    p.scopes |= {"imconnector", "imopenlines"}  # the new version asks for them; the admin granted them

    response = emulator.update_app(p)
    assert response is not None and response.status_code == 200, response and response.text
    assert CONNECTOR in p.connectors and set(p.events) == set(bitrix_events.REGISTRY)
    stored = store.portals.get_portal(p.member_id)
    assert stored and "imconnector" in stored.scope


def test_an_update_the_portal_refuses_to_restore_answers_503_and_the_sync_restores_it(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    portal.fail_next(1, 400, "ACCESS_DENIED", "the portal refused")  # the first REST call of the restore
    response = emulator.update_app(portal)
    assert response is not None and response.status_code == 503, response and response.text
    assert portal.senders == {}  # not restored: Bitrix24 does not send the event again

    sync_portals(stack, portal)
    assert list(portal.senders) == ["b24sms"]
