"""The emulator's CRM room (local/emulator/crm.py) without HTTP: the shapes and errors of
crm.duplicate.findbycomm, crm.timeline.logmessage.add and im.notify.system.add, and the scopes."""

from __future__ import annotations

from typing import Any

import pytest

from local.emulator import rest
from local.emulator.params import RestError
from local.emulator.state import EmulatedPortal, EmulatorState


@pytest.fixture
def portal() -> EmulatedPortal:
    return EmulatorState().add_portal()


def entry(key: tuple[int, int], **over: Any) -> dict[str, Any]:
    fields = {"entityTypeId": key[0], "entityId": key[1], "title": "SMS", "text": "Opted out", "iconCode": "info"} | over
    return {"fields": fields}


def test_findbycomm_finds_by_digits_per_type_and_answers_an_empty_array_when_nothing(portal: EmulatedPortal) -> None:
    contact = portal.add_crm_item("contact", "+1 555 017 0001")
    lead = portal.add_crm_item("lead", "(555) 017-0001")
    portal.add_crm_item("company", "+1 555 017 0002")
    both = {"type": "PHONE", "values": ["+15550170001", "5550170001"]}
    assert rest.dispatch(portal, "crm.duplicate.findbycomm", both) == {"CONTACT": [contact[1]], "LEAD": [lead[1]]}
    only = rest.dispatch(portal, "crm.duplicate.findbycomm", {**both, "entity_type": "LEAD"})
    assert only == {"LEAD": [lead[1]]}
    e164 = rest.dispatch(portal, "crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+15550170001"]})
    assert e164 == {"CONTACT": [contact[1]]}  # the national form typed on the lead is another value
    assert rest.dispatch(portal, "crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+15550179999"]}) == []


@pytest.mark.parametrize(
    "params",
    [
        {"values": ["+15550170001"]},
        {"type": "FAX", "values": ["+15550170001"]},
        {"type": "PHONE"},
        {"type": "PHONE", "values": [f"+1555017{n:04}" for n in range(21)]},
    ],
)
def test_findbycomm_refuses_a_bad_call(portal: EmulatedPortal, params: dict[str, Any]) -> None:
    with pytest.raises(RestError):
        rest.dispatch(portal, "crm.duplicate.findbycomm", params)


def test_logmessage_add_writes_on_the_items_timeline(portal: EmulatedPortal) -> None:
    key = portal.add_crm_item("contact", "+15550170001")
    answer = rest.dispatch(portal, "crm.timeline.logmessage.add", entry(key))
    assert set(answer["logMessage"]) == {"id", "created", "authorId", "title", "text", "iconCode"}
    assert [e["text"] for e in portal.crm_timeline(key)] == ["Opted out"]


def test_logmessage_add_errors(portal: EmulatedPortal) -> None:
    key = portal.add_crm_item("contact", "+15550170001")
    locked = portal.add_crm_item("lead", "+15550170001", locked=True)
    cases = [(entry((3, 99999)), "OWNER_NOT_FOUND"), (entry(locked), "ACCESS_DENIED"), (entry(key, title=""), "100")]
    for params, code in cases:
        with pytest.raises(RestError) as caught:
            rest.dispatch(portal, "crm.timeline.logmessage.add", params)
        assert caught.value.code == code
    assert portal.crm_timeline(key) == [] and portal.crm_timeline(locked) == []


def test_notify_system_add_replaces_a_notification_with_the_same_tag(portal: EmulatedPortal) -> None:
    rest.dispatch(portal, "im.notify.system.add", {"USER_ID": 1, "MESSAGE": "Carrier refused", "TAG": "b24sms|auth"})
    rest.dispatch(portal, "im.notify.system.add", {"USER_ID": 1, "MESSAGE": "Carrier refused again", "TAG": "b24sms|auth"})
    rest.dispatch(portal, "im.notify.system.add", {"USER_ID": 1, "MESSAGE": "Low delivery rate", "TAG": "b24sms|rate"})
    assert [n["MESSAGE"] for n in portal.notifications] == ["Carrier refused again", "Low delivery rate"]
    bad: list[tuple[dict[str, Any], str]] = [({"MESSAGE": "x"}, "USER_ID_EMPTY"), ({"USER_ID": 1}, "MESSAGE_EMPTY")]
    for params, code in bad:
        with pytest.raises(RestError) as caught:
            rest.dispatch(portal, "im.notify.system.add", params)
        assert caught.value.code == code


def test_crm_and_im_need_their_scopes(portal: EmulatedPortal) -> None:
    portal.scopes -= {"crm", "im"}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+15550170001"]}),
        ("im.notify.system.add", {"USER_ID": 1, "MESSAGE": "x"}),
    ]
    for method, params in calls:
        with pytest.raises(RestError) as caught:
            rest.dispatch(portal, method, params)
        assert caught.value.code == "insufficient_scope"
    assert rest.dispatch(portal, "imconnector.list", {}) is not None  # "im." is not imconnector's prefix
