"""Quiet hours on the local stack (issue #21 items 2 and 4): a message handed over at night in the
recipient's zone is held, ONE Scheduler wake-up is created for the portal's opening, the local stack
fires it at that time as the template's QuietWakeRole, and the message is then sent once. The clock is
simulated: the store's clock (what dispatch and the quiet hours read) and the local scheduler's are
moved, nothing sleeps until morning."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

import pytest

from b24sms.adapters import store
from b24sms.adapters.carriers.sandbox import SandboxCarrier
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until


def test_a_message_inside_quiet_hours_is_sent_by_the_portals_wake_up(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    berlin = ZoneInfo("Europe/Berlin")
    night = datetime.combine(date.today() + timedelta(days=1), dtime(23, 0), berlin).timestamp()
    offset = [night - time.time()]
    monkeypatch.setattr(store, "now", lambda: int(time.time() + offset[0]))
    monkeypatch.setattr(stack.schedules, "clock", lambda: time.time() + offset[0])
    assert store.quiet.set_quiet_hours(portal.member_id, {"start": "21:00", "end": "08:00", "zone": "UTC", "exempt": []})

    first, _ = emulator.send_sms(portal, "+493012345678", "Guten Morgen")
    second, _ = emulator.send_sms(portal, "+493012345679", "Guten Morgen")
    wait_until(lambda: len(store.quiet.due(portal.member_id, 2**40, 10)[0]) == 2)
    (wake,) = {until for _, until in store.quiet.due(portal.member_id, 2**40, 10)[0]}
    assert datetime.fromtimestamp(wake, berlin).strftime("%H:%M") == "08:00"  # the recipient's morning
    # The backstop: a held message waits in by-pending from its opening on, so the recovery sweep would
    # queue it soon after the opening should the wake-up be lost (and leaves it alone before).
    item = store.messages._messages().get_item(Key={"member_id": portal.member_id, "message_id": first})["Item"]
    assert int(item["pending_since"]) == wake and item["dispatch_state"] == "accepted"
    group = stack.schedules.groups[0]
    mine = [s for s in stack.schedules.client.list_schedules(GroupName=group)["Schedules"] if s["Name"].endswith(f"-{wake}")]
    assert len(mine) == 1  # one wake-up for the two messages
    assert emulator.open_app(portal).text.count("<span>held for quiet hours, goes at") == 2  # the page's log says so
    time.sleep(1.5)  # the scheduler ticks: not due yet
    assert [k for k, _ in SandboxCarrier.outbox if k.startswith(portal.member_id)] == []

    offset[0] = wake - time.time()  # morning
    assert final_status(portal, first) == "delivered" and final_status(portal, second) == "delivered"
    sent = [k for k, _ in SandboxCarrier.outbox if k.startswith(portal.member_id)]
    assert sorted(sent) == sorted([f"{portal.member_id}.{first}", f"{portal.member_id}.{second}"])
    assert not [s for s in stack.schedules.client.list_schedules(GroupName=group)["Schedules"] if s["Name"] == mine[0]["Name"]]
    # Each step ran with the template's permissions: the wake-up as QuietWakeRole, the rest as dispatch.
    assert stack.iam.count("QuietWakeRole", "sqs:SendMessage") >= 1
    assert stack.iam.count("DispatchFunction", "scheduler:CreateSchedule") >= 1
    assert stack.iam.count("DispatchFunction", "iam:PassRole") >= 1
    assert not [c for c in stack.iam.denied() if c.function in ("QuietWakeRole", "DispatchFunction")]


def test_the_page_sets_quiet_hours_in_both_languages_and_audits_them(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    from tests.integration.test_app_page_api import call, session_of

    page = emulator.open_app(portal).text
    assert 'id="quiet-state" class="warn"' in page  # off by default
    token = session_of(emulator, portal)
    for bad in (
        {"quiet": "maybe"},
        {"quiet": "on", "start": "25:00", "end": "08:00", "zone": "UTC"},
        {"quiet": "on", "start": "21:00", "end": "08:00", "zone": "Mars/Base"},
        {"quiet": "on", "start": "21:00", "end": "08:00", "zone": "UTC", "exempt": "not_ours"},
    ):
        assert call(stack, token, "quiet-save", **bad).status_code == 400, bad
    assert store.portals.get_portal(portal.member_id).quiet_hours == {}  # type: ignore[union-attr]
    saved = call(stack, token, "quiet-save", quiet="on", start="22:00", end="07:30", zone="Europe/Moscow", exempt="b24sms")
    assert saved.status_code == 200, saved.text
    stored = store.portals.get_portal(portal.member_id)
    assert stored and stored.quiet_hours == {"start": "22:00", "end": "07:30", "zone": "Europe/Moscow", "exempt": ["b24sms"]}
    page = emulator.open_app(portal).text
    assert 'id="quiet-state" class="ok"' in page and "22:00–07:30" in page
    assert "quiet hours: senders never held: b24sms; 22:00-07:30 Europe/Moscow" in page, page[page.find('id="audit"') :][:1500]
    assert call(stack, token, "quiet-save", quiet="off").status_code == 200
    assert store.portals.get_portal(portal.member_id).quiet_hours == {}  # type: ignore[union-attr]
