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
    group = stack.schedules.groups[0]
    mine = [s for s in stack.schedules.client.list_schedules(GroupName=group)["Schedules"] if s["Name"].endswith(f"-{wake}")]
    assert len(mine) == 1  # one wake-up for the two messages
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
