"""Quiet hours (issue #21 item 2): the window in the recipient's zone (domain/quiet.py), and the hold and
the one wake-up per (portal, opening) through the real dispatch use case on in-memory stand-ins
(local/memory/store.py, a fake SQS, a fake EventBridge Scheduler) and a simulated clock."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from b24sms.domain import quiet as rules
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import Message
from local.memory.clock import SimClock
from local.memory.store import Meter, SimChats, SimMessages, SimPortals


def at(text: str, zone: str) -> float:
    """Unix seconds of a local wall time, e.g. at("2026-12-05 23:00", "Europe/Berlin")."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo(zone)).timestamp()


def local(ts: float, zone: str) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


NIGHT = rules.QuietHours(rules.parse_hhmm("21:00"), rules.parse_hhmm("08:00"), "Europe/Berlin")


# -- the window ------------------------------------------------------------------------------------
def test_a_window_across_midnight_opens_at_its_end_the_next_morning():
    wake = rules.quiet_until(NIGHT, ("Europe/Berlin",), at("2026-12-05 23:00", "Europe/Berlin"))
    assert wake is not None and local(wake, "Europe/Berlin") == "2026-12-06 08:00"
    wake = rules.quiet_until(NIGHT, ("Europe/Berlin",), at("2026-12-06 06:30", "Europe/Berlin"))
    assert wake is not None and local(wake, "Europe/Berlin") == "2026-12-06 08:00"
    assert rules.quiet_until(NIGHT, ("Europe/Berlin",), at("2026-12-06 08:00", "Europe/Berlin")) is None
    assert rules.quiet_until(NIGHT, ("Europe/Berlin",), at("2026-12-06 20:59", "Europe/Berlin")) is None


def test_a_daytime_window_and_the_dst_change_night():
    lunch = rules.QuietHours(rules.parse_hhmm("12:00"), rules.parse_hhmm("14:00"), "UTC")
    assert rules.quiet_until(lunch, ("UTC",), at("2026-12-05 11:59", "UTC")) is None
    assert rules.quiet_until(lunch, ("UTC",), at("2026-12-05 12:00", "UTC")) == at("2026-12-05 14:00", "UTC")
    # The night Berlin springs forward (2:00 -> 3:00): the window still ends at 08:00 local, 06:00 UTC.
    wake = rules.quiet_until(NIGHT, ("Europe/Berlin",), at("2027-03-27 22:00", "Europe/Berlin"))
    assert wake == at("2027-03-28 06:00", "UTC")


def test_the_number_picks_the_zone_by_country_and_area_code():
    assert rules.number_zones("+493012345678") == ("Europe/Berlin",)
    assert rules.number_zones("+73952000000") == ("Asia/Irkutsk",)  # 3952: Irkutsk, UTC+8
    assert rules.number_zones("+12125550100") == ("America/New_York",)  # 212: Manhattan
    assert rules.number_zones("+13105550100") == ("America/Los_Angeles",)  # 310: Los Angeles
    # 22:30 in New York is 19:30 in Los Angeles: one is held, the other goes.
    us = rules.QuietHours(rules.parse_hhmm("21:00"), rules.parse_hhmm("08:00"), "UTC")
    now = at("2026-12-05 22:30", "America/New_York")
    assert rules.quiet_until(us, rules.recipient_zones("+12125550100", "UTC"), now) == at("2026-12-06 08:00", "America/New_York")
    assert rules.quiet_until(us, rules.recipient_zones("+13105550100", "UTC"), now) is None


def test_several_zones_take_the_portals_when_it_is_one_of_them_else_all():
    many = rules.number_zones("+73000000000")  # +7 with no listed area: every zone of +7
    assert len(many) > 5 and "Europe/Moscow" in many
    assert rules.recipient_zones("+73000000000", "Europe/Moscow") == ("Europe/Moscow",)
    assert rules.recipient_zones("+73000000000", "Europe/Berlin") == many
    assert rules.recipient_zones("+999", "Asia/Tokyo") == ("Asia/Tokyo",)  # unknown: the portal's zone
    # All zones: quiet while any is, open when all are.
    both = ("Europe/London", "Asia/Tokyo")
    wake = rules.quiet_until(NIGHT, both, at("2026-12-05 12:00", "Europe/London"))  # 21:00 in Tokyo
    assert wake == at("2026-12-06 08:00", "Asia/Tokyo")


def test_settings_parse_and_refuse():
    item = rules.QuietHours(1260, 480, "Europe/Moscow", frozenset({"b24sms_2"})).to_item()
    assert item == {"start": "21:00", "end": "08:00", "zone": "Europe/Moscow", "exempt": ["b24sms_2"]}
    assert rules.QuietHours.from_item(item) == rules.QuietHours(1260, 480, "Europe/Moscow", frozenset({"b24sms_2"}))
    assert rules.QuietHours.from_item({}) is None
    assert rules.QuietHours.from_item({"start": "08:00", "end": "08:00"}) is None  # an empty window: off
    for bad in (
        {"start": "25:00", "end": "08:00"},
        {"start": "21:00", "end": "8"},
        {"start": "21:00", "end": "08:00", "zone": "Mars/Base"},
    ):
        with pytest.raises(ValueError):
            rules.QuietHours.from_item(bad)


# -- hold and wake on a simulated clock -------------------------------------------------------------
class SimQuiet:
    """store/quiet.py over the sim store: ``by-quiet`` as a dict, the same conditions."""

    def __init__(self, messages: SimMessages) -> None:
        self.messages = messages
        self.held: dict[tuple[str, str], int] = {}

    def hold(self, member_id: str, message_id: str, wake_at: int) -> bool:
        message = self.messages.items.get((member_id, message_id))
        if message is None or message.dispatch_state != DispatchState.ACCEPTED:
            return False
        self.held[(member_id, message_id)] = wake_at
        return True

    def due(self, member_id: str, until: int, limit: int) -> tuple[list[tuple[str, int]], bool]:
        found = sorted((w, mid) for (m, mid), w in self.held.items() if m == member_id and w <= until)
        return [(mid, w) for w, mid in found[:limit]], len(found) > limit

    def unhold(self, member_id: str, message_id: str, wake_at: int) -> bool:
        if self.held.get((member_id, message_id)) != wake_at:
            return False
        del self.held[(member_id, message_id)]
        return True


@dataclass
class FakeScheduler:
    """EventBridge Scheduler's create_schedule (a taken name: ConflictException) and, like the local
    stack, the firing of due one-time schedules (then deleted: ActionAfterCompletion DELETE)."""

    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: int = 0

    def create_schedule(self, **kwargs: Any) -> dict[str, Any]:
        if kwargs["Name"] in self.schedules:
            raise type("ConflictException", (Exception,), {"response": {"Error": {"Code": "ConflictException"}}})()
        self.created += 1
        self.schedules[kwargs["Name"]] = kwargs
        return {}

    def due(self, now: float) -> list[dict[str, Any]]:
        out = []
        for name, schedule in list(self.schedules.items()):
            when = datetime.strptime(schedule["ScheduleExpression"][3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
            if when.timestamp() <= now:
                out.append(schedule)
                del self.schedules[name]
        return out


class FakeSqs:
    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.later: list[tuple[int, str]] = []  # (DelaySeconds, body): delivered only when a test says

    def send_message(self, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0) -> dict[str, Any]:
        if DelaySeconds:
            self.later.append((DelaySeconds, MessageBody))
        else:
            self.bodies.append(MessageBody)
        return {}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.bodies.extend(e["MessageBody"] for e in Entries)
        return {}


class Carrier:
    name = "sandbox"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, sms: Any) -> Any:
        from b24sms.adapters.carriers.base import SendResult

        self.sent.append(sms.key)
        return SendResult(f"c{len(self.sent)}")


class World:
    def __init__(self) -> None:
        self.clock = SimClock()
        meter = Meter(self.clock, 0.0)
        self.messages, self.portals, self.chats = SimMessages(meter), SimPortals(meter), SimChats(meter)
        self.quiet = SimQuiet(self.messages)
        self.scheduler, self.sqs, self.carrier = FakeScheduler(), FakeSqs(), Carrier()
        self.seq = 0

    def set_time(self, ts: float) -> None:
        self.clock.base = ts - self.clock.time() + self.clock.base

    def hand_over(self, member_id: str, to: str, code: str = "b24sms") -> str:
        self.seq += 1
        now = self.clock.now_int()
        message = Message(
            member_id=member_id, message_id=f"m{self.seq}", to=to, body="hi", code=code, created_at=now, updated_at=now
        )
        assert self.messages.create_message(message)
        self.sqs.send_message("outbound", json.dumps({"member_id": member_id, "message_id": message.message_id}))
        return message.message_id

    def run_outbound(self) -> list[str]:
        """The dispatch function over everything queued (records in order, as its handler does)."""
        from b24sms.usecases import dispatch, quiet

        outcomes = []
        while self.sqs.bodies:
            body = self.sqs.bodies.pop(0)
            if quiet.is_wake(body):
                outcomes.append(quiet.wake(body))
            else:
                data = json.loads(body)
                outcomes.append(dispatch.dispatch(data["member_id"], data["message_id"]).outcome)
        return outcomes

    def fire_schedules(self) -> list[dict[str, Any]]:
        fired = self.scheduler.due(self.clock.time())
        for schedule in fired:
            self.sqs.bodies.append(schedule["Target"]["Input"])
        return fired


@pytest.fixture
def world() -> Iterator[World]:
    from b24sms.adapters import queues, schedules
    from b24sms.adapters.config import get_settings
    from b24sms.usecases import dispatch, quiet

    w = World()
    store = SimpleNamespace(messages=w.messages, portals=w.portals, chats=w.chats, quiet=w.quiet, now=w.clock.now_int)
    env = {
        "PORTALS_TABLE": "portals",
        "MESSAGES_TABLE": "messages",
        "LIMITS_TABLE": "limits",
        "OUTBOUND_QUEUE_URL": "outbound",
        "STATUS_QUEUE_URL": "status",
        "BITRIX_CLIENT_ID": "sim",
        "PUBLIC_BASE_URL": "https://sim.example",
        "CARRIER_RATE": "0",
        "QUIET_SCHEDULE_GROUP": "b24sms-test-quiet",
        "QUIET_WAKE_TARGET_ARN": "arn:aws:sqs:us-east-1:123456789012:outbound",
        "QUIET_WAKE_ROLE_ARN": "arn:aws:iam::123456789012:role/wake",
    }
    with (
        mock.patch.dict(os.environ, env),
        mock.patch.object(dispatch, "store", store),
        mock.patch.object(quiet, "store", store),
        mock.patch.object(queues, "aws", SimpleNamespace(sqs=lambda: w.sqs)),
        mock.patch.object(schedules, "scheduler", lambda: w.scheduler),
        mock.patch.object(dispatch, "get_carrier", lambda name, config=None: w.carrier),
        mock.patch.dict(dispatch._PORTALS, clear=True),
        mock.patch.object(quiet, "_ASKED", set()),
    ):
        get_settings.cache_clear()
        yield w
    get_settings.cache_clear()


def quiet_portal(w: World, member_id: str, exempt: frozenset[str] = frozenset()) -> None:
    portal = w.portals.add(member_id)
    w.portals.items[member_id] = replace(portal, quiet_hours=replace(NIGHT, exempt=exempt).to_item())


def test_a_message_inside_quiet_hours_goes_out_when_the_window_opens(world: World):
    quiet_portal(world, "p1")
    world.set_time(at("2026-12-05 23:00", "Europe/Berlin"))
    first, second = world.hand_over("p1", "+493012345678"), world.hand_over("p1", "+493098765432")
    assert world.run_outbound() == ["held", "held"]
    assert world.carrier.sent == []
    # One wake-up for the portal's opening, however many messages it holds.
    assert world.scheduler.created == 1
    (schedule,) = world.scheduler.schedules.values()
    assert schedule["ScheduleExpression"] == "at(2026-12-06T07:00:00)" and schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["GroupName"] == "b24sms-test-quiet"
    world.set_time(at("2026-12-06 07:59", "Europe/Berlin"))
    assert world.fire_schedules() == []  # not yet

    world.set_time(at("2026-12-06 08:00", "Europe/Berlin"))
    assert len(world.fire_schedules()) == 1
    assert world.run_outbound() == ["released 2", "sent", "sent"]
    assert sorted(world.carrier.sent) == [f"p1.{first}", f"p1.{second}"]
    assert world.quiet.held == {}


def test_exempt_senders_and_portals_without_quiet_hours_go_at_once(world: World):
    quiet_portal(world, "p1", exempt=frozenset({"b24sms_2"}))
    world.portals.add("p2")  # no quiet hours
    world.set_time(at("2026-12-05 23:00", "Europe/Berlin"))
    world.portals.items["p1"] = replace(world.portals.items["p1"], senders={"b24sms_2": {"name": "CRM"}})
    world.hand_over("p1", "+493012345678", code="b24sms_2")
    world.hand_over("p2", "+493012345678")
    world.hand_over("p1", "+13105550100")  # 14:00 in Los Angeles
    assert world.run_outbound() == ["sent", "sent", "sent"]
    assert world.scheduler.created == 0


def test_no_duplicate_when_the_wake_up_fires_twice(world: World):
    quiet_portal(world, "p1")
    world.set_time(at("2026-12-05 23:00", "Europe/Berlin"))
    world.hand_over("p1", "+493012345678")
    world.run_outbound()
    world.set_time(at("2026-12-06 08:00", "Europe/Berlin"))
    (schedule,) = world.fire_schedules()
    world.sqs.bodies.append(schedule["Target"]["Input"])  # delivered twice (SQS: at least once)
    world.sqs.bodies.append(schedule["Target"]["Input"])
    outcomes = world.run_outbound()
    assert outcomes.count("sent") == 1 and len(world.carrier.sent) == 1
    assert outcomes[:3] == ["released 1", "released 0", "released 0"]
    # Even a message queued twice by two releases racing is claimed once.
    world.sqs.bodies.extend([json.dumps({"member_id": "p1", "message_id": "m1"})] * 2)
    assert world.run_outbound() == ["skipped", "skipped"] and len(world.carrier.sent) == 1


def test_nothing_is_lost_across_a_redeploy(world: World):
    from b24sms.usecases import dispatch, quiet

    quiet_portal(world, "p1")
    world.set_time(at("2026-12-05 23:00", "Europe/Berlin"))
    world.hand_over("p1", "+493012345678")
    world.run_outbound()
    # A redeploy: every Lambda's memory is new; what is held lives in the table and the schedule.
    quiet._ASKED.clear()
    dispatch._PORTALS.clear()
    world.hand_over("p1", "+493012345679")  # the new code holds it for the same opening
    assert world.run_outbound() == ["held"]
    assert world.scheduler.created == 1  # the same name: Scheduler refused a second one
    world.set_time(at("2026-12-06 08:00", "Europe/Berlin"))
    world.fire_schedules()
    assert world.run_outbound() == ["released 2", "sent", "sent"]


def test_an_early_wake_up_comes_back_at_the_opening(world: World):
    quiet_portal(world, "p1")
    world.set_time(at("2026-12-05 23:00", "Europe/Berlin"))
    world.hand_over("p1", "+493012345678")
    world.run_outbound()
    (schedule,) = world.scheduler.schedules.values()
    world.set_time(at("2026-12-06 07:59", "Europe/Berlin"))
    world.sqs.bodies.append(schedule["Target"]["Input"])
    assert world.run_outbound() == ["released 0"]
    assert world.sqs.later == [(60, schedule["Target"]["Input"])] and world.carrier.sent == []
    assert len(world.quiet.held) == 1
    world.set_time(at("2026-12-06 08:00", "Europe/Berlin"))
    world.sqs.bodies.append(world.sqs.later.pop()[1])
    assert world.run_outbound() == ["released 1", "sent"]


def test_a_long_night_is_released_a_page_at_a_time_with_one_wake_up(world: World):
    from b24sms.usecases import quiet

    quiet_portal(world, "p1")
    world.set_time(at("2026-12-05 23:00", "Europe/Berlin"))
    for n in range(5):
        world.hand_over("p1", f"+49301234567{n}")
    assert world.run_outbound() == ["held"] * 5 and world.scheduler.created == 1
    world.set_time(at("2026-12-06 08:00", "Europe/Berlin"))
    world.fire_schedules()
    with mock.patch.object(quiet, "RELEASE_PAGE", 2):
        outcomes = world.run_outbound()
    # two per wake-up message, each followed by a continuation of its own until none is left
    assert [o for o in outcomes if o.startswith("released")] == ["released 2", "released 2", "released 1"]
    assert outcomes.count("sent") == 5 and len(set(world.carrier.sent)) == 5 and world.quiet.held == {}
