"""The page's routing settings (issue #21 item 1): an administrator sets routing by destination and the
fallback carrier, in English and Russian; bad input is a JSON 400 that writes nothing; a user who is
not an administrator cannot change it."""

from __future__ import annotations

import re

import pytest

from b24sms.adapters import store
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.integration.test_app_page_api import call, session_of


def test_an_administrator_sets_routing_and_the_fallback(stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal):
    token = session_of(emulator, portal)
    saved = call(stack, token, "routing-save", routes="+7=smsru, kz=smsru", fallback="twilio")
    assert saved.status_code == 200, saved.text
    record = store.portals.get_portal(portal.member_id)
    assert record and record.routing == {"+7": "smsru", "KZ": "smsru", "fallback": "twilio"}
    assert store.audit.audit_log(portal.member_id)[0]["action"] == "routing changed"
    page = emulator.open_app(portal, "1").text
    assert 'id="routing-now">+7=smsru, KZ=smsru</b>' in page
    cleared = call(stack, token, "routing-save", routes="", fallback="")
    assert cleared.status_code == 200, cleared.text
    record = store.portals.get_portal(portal.member_id)
    assert record and record.routing == {}


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ({"routes": "Russia=smsru"}, "Такую маршрутизацию нельзя использовать"),
        ({"routes": "+7=nosuch"}, "не оператор из предложенных"),
        ({"routes": "", "fallback": "nosuch"}, "не оператор из предложенных"),
        ({"routes": "ZZ=smsru"}, "Такую маршрутизацию нельзя использовать"),
    ],
)
def test_bad_routing_is_a_json_400_in_the_pages_language_and_writes_nothing(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, form: dict[str, str], said: str
):
    store.portals.set_routing(portal.member_id, {"+7": "smsru"}, {})
    response = emulator.open_app(portal, "1", lang="ru")
    assert response.status_code == 200
    token = str(re.findall(r'name="session" value="([^"]+)"', response.text)[0])
    refused = call(stack, token, "routing-save", **form)
    assert refused.status_code == 400 and said in refused.json()["error_description"], refused.text
    record = store.portals.get_portal(portal.member_id)
    assert record and record.routing == {"+7": "smsru"}
    assert store.audit.audit_log(portal.member_id) == []


def test_only_an_administrator_changes_routing(stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal):
    token = session_of(emulator, portal, "2")
    refused = call(stack, token, "routing-save", routes="+7=smsru")
    assert refused.status_code == 403, refused.text
    record = store.portals.get_portal(portal.member_id)
    assert record and record.routing == {}


def test_the_audit_log_says_routing_changed_in_russian(stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal):
    token = session_of(emulator, portal)
    assert call(stack, token, "routing-save", routes="+7=smsru").status_code == 200
    page = emulator.open_app(portal, "1", lang="ru").text
    assert "маршрутизация изменена: резервный оператор: —; маршруты: +7=smsru" in page  # fields in Russian too
