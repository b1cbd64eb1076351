"""Account refusals (issue #20 item 4) on in-memory stand-ins: a carrier refusing the account itself
holds it (one call at the carrier, not one per SMS and attempt), the account's SMS wait unsent, one
paced probe tries it, a working send ends the hold and they go out once each, and a message held past
the bound fails with the refusal's code. Each carrier's spec declares its refusals."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest

from b24sms.adapters import carriers
from b24sms.adapters.carriers import OutboundSms, PermanentCarrierError, SendResult, TransientCarrierError
from b24sms.adapters.config import get_settings
from b24sms.domain import holds
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.holds import AccountHold
from b24sms.domain.models import Message
from b24sms.usecases import account_hold, admin_alerts, dispatch, status_updates
from local.memory.clock import SimClock
from local.memory.store import Meter, SimChats, SimMessages, SimPortals

PORTAL = "portal-1"


class SimHolds:
    """``store.holds`` over the stand-in portals' records, with its conditions."""

    def __init__(self, portals: SimPortals) -> None:
        self.portals = portals
        self.writes = 0

    def hold(self, member_id: str, key: str, held: AccountHold) -> bool:
        self.writes += 1
        found = self.portals.items[member_id].account_holds
        if key in found:
            return False
        found[key] = held.to_item()
        return True

    def take_probe(self, member_id: str, key: str, seen: int, next_at: int) -> bool:
        self.writes += 1
        found = self.portals.items[member_id].account_holds.get(key)
        if not found or found["probe_at"] != seen:
            return False
        found["probe_at"] = next_at
        return True

    def release(self, member_id: str, keys: list[str]) -> None:
        self.writes += 1
        for key in keys:
            self.portals.items[member_id].account_holds.pop(key, None)


class SimAlerts:
    """``store.alerts`` over the stand-in portals' records."""

    def __init__(self, portals: SimPortals) -> None:
        self.portals = portals

    def open_alert(self, member_id: str, cause: str) -> bool:
        found = self.portals.items[member_id].alerts
        if cause in found:
            return False
        found[cause] = 1
        return True

    def close_alert(self, member_id: str, cause: str) -> bool:
        return self.portals.items[member_id].alerts.pop(cause, None) is not None


class Refusing:
    """A Twilio-named carrier that refuses our credentials (TWILIO_20003) until ``fixed``."""

    name = "twilio"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.sent: list[str] = []
        self.fixed = False

    def send(self, sms: OutboundSms) -> SendResult:
        self.calls.append(sms.key)
        if not self.fixed:
            raise TransientCarrierError("TWILIO_20003", "credentials refused: Authenticate")
        self.sent.append(sms.key)
        return SendResult(f"SM{len(self.sent)}")


class World:
    def __init__(self) -> None:
        self.clock = SimClock()
        self.clock.base = 1000.0
        meter = Meter(self.clock, 0.0)
        self.messages = SimMessages(meter)
        self.portals = SimPortals(meter)
        self.portals.add(PORTAL)
        self.holds = SimHolds(self.portals)
        self.store = SimpleNamespace(
            messages=self.messages,
            portals=self.portals,
            chats=SimChats(meter),
            holds=self.holds,
            alerts=SimAlerts(self.portals),
            now=self.clock.now_int,
        )
        self.jobs: list[tuple[str, str, list[Any], str, dict[str, Any], str]] = []
        self.queued: list[tuple[str, int]] = []  # (message_id, delay) queued again
        self.pushed: list[str] = []
        self.queues = SimpleNamespace(
            enqueue_dispatch=lambda member_id, message_id, delay_seconds=0: self.queued.append((message_id, delay_seconds)),
            enqueue_push=lambda member_id, message_id, final=None: self.pushed.append(message_id),
        )
        self.carrier = Refusing()

    def queue_job(self, *job: Any) -> bool:
        self.jobs.append(job)  # type: ignore[arg-type]
        return True

    def accept(self, message_id: str) -> None:
        now = self.clock.now_int()
        self.messages.create_message(Message(PORTAL, message_id, to="+15550100001", body="hi", created_at=now, updated_at=now))

    def dispatch(self, message_id: str) -> dispatch.DispatchResult:
        return dispatch.dispatch(PORTAL, message_id)

    def due(self) -> list[str]:
        """Run the messages queued again, as the queue hands them back (all at once here)."""
        ids = [m for m, _ in self.queued]
        self.queued.clear()
        return [self.dispatch(m).outcome for m in ids]


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    env = {
        "PORTALS_TABLE": "p",
        "MESSAGES_TABLE": "m",
        "LIMITS_TABLE": "l",
        "OUTBOUND_QUEUE_URL": "q",
        "STATUS_QUEUE_URL": "s",
        "BITRIX_CLIENT_ID": "c",
        "PUBLIC_BASE_URL": "https://unit.example",
        "CARRIER_RATE": "0",
        "ACCOUNT_PROBE_SECONDS": "60",
        "ACCOUNT_HOLD_MAX": "3600",
    }
    with mock.patch.dict(os.environ, env):
        get_settings.cache_clear()
        with (
            mock.patch.object(dispatch, "store", w.store),
            mock.patch.object(account_hold, "store", w.store),
            mock.patch.object(admin_alerts, "store", w.store),
            mock.patch.object(admin_alerts, "queue_job", w.queue_job),
            mock.patch.object(dispatch, "queues", w.queues),
            mock.patch.object(account_hold, "queues", w.queues),
            mock.patch.object(dispatch, "get_carrier", lambda name, config=None: w.carrier),
            mock.patch.object(status_updates, "settle_parts", lambda *a: None),
            mock.patch.dict(dispatch._PORTALS, clear=True),
        ):
            yield w
    get_settings.cache_clear()


def test_a_refused_account_costs_one_carrier_call_for_three_sms_and_they_wait_unsent(world: World):
    for n in (1, 2, 3):
        world.accept(f"m{n}")
    outcomes = [world.dispatch(f"m{n}").outcome for n in (1, 2, 3)]
    assert outcomes == ["held", "held", "held"]
    assert world.carrier.calls == [f"{PORTAL}.m1"]  # one call, not 3 x DISPATCH_MAX_ATTEMPTS
    [hold] = world.portals.items[PORTAL].account_holds.values()
    assert hold["cause"] == holds.CREDENTIALS and hold["code"] == "TWILIO_20003"
    for n in (1, 2, 3):  # queued, never written to the carrier, the reason kept, no attempt spent
        message = world.messages.items[(PORTAL, f"m{n}")]
        assert message.dispatch_state == DispatchState.ACCEPTED and message.status_rank == 0 and message.attempts == 0
    assert world.messages.items[(PORTAL, "m1")].error_code == "TWILIO_20003"
    assert sorted(m for m, _ in world.queued) == ["m1", "m2", "m3"]
    assert all(55 <= delay <= 60 for _, delay in world.queued)  # until the next probe, not a tight loop
    assert world.pushed == []


def test_before_the_probe_is_due_nothing_reaches_the_carrier(world: World):
    world.accept("m1")
    world.dispatch("m1")
    world.clock.base += 30
    assert world.due() == ["held"]
    assert len(world.carrier.calls) == 1


def test_one_probe_per_turn_and_a_working_one_ends_the_hold_each_sms_sent_once(world: World):
    for n in (1, 2, 3):
        world.accept(f"m{n}")
        world.dispatch(f"m{n}")
    world.clock.base += 61
    assert world.due() == ["held", "held", "held"]  # still refused: the first took the probe, the rest wait
    assert len(world.carrier.calls) == 2
    world.carrier.fixed = True
    world.clock.base += 61
    outcomes = world.due()
    assert outcomes[0] == "sent" and world.portals.items[PORTAL].account_holds == {}
    outcomes += world.due()  # whoever waited behind the probe goes at its next turn
    assert sorted(world.carrier.sent) == [f"{PORTAL}.m{n}" for n in (1, 2, 3)]  # each exactly once
    assert len(world.carrier.calls) == 5


def test_the_pages_check_ends_the_hold(world: World):
    world.accept("m1")
    world.dispatch("m1")
    portal = world.portals.items[PORTAL]
    assert account_hold.release_carrier(replace(portal), "vonage") == []  # another carrier's check: no matter
    assert portal.account_holds
    assert account_hold.release_carrier(replace(portal), "twilio") == [holds.account_key("twilio", "")]
    assert portal.account_holds == {}
    world.carrier.fixed = True
    world.clock.base += 5
    dispatch._PORTALS.clear()  # the dispatcher's portal cache has run out
    assert world.due() == ["sent"] and world.carrier.sent == [f"{PORTAL}.m1"]


def test_a_message_held_past_the_bound_fails_with_the_refusal(world: World):
    world.accept("m1")
    world.dispatch("m1")
    for _ in range(60):  # an hour of probes, every one refused
        world.clock.base += 61
        world.due()
    message = world.messages.items[(PORTAL, "m1")]
    assert message.status == "failed" and message.error_code == "TWILIO_20003"
    assert world.pushed == ["m1"] and world.queued == []
    assert len(world.carrier.calls) <= 61  # one a minute, not five in a few minutes


def test_another_portals_hold_does_not_hold_this_portals_sms(world: World):
    world.portals.add("portal-2")
    world.accept("m1")
    world.dispatch("m1")
    world.carrier.fixed = True
    world.messages.create_message(Message("portal-2", "x1", to="+15550100002", body="hi", created_at=world.clock.now_int()))
    assert dispatch.dispatch("portal-2", "x1").outcome == "sent"


def test_a_refusal_of_one_message_is_not_an_account_hold(world: World):
    class Permanent(Refusing):
        def send(self, sms: OutboundSms) -> SendResult:
            self.calls.append(sms.key)
            raise PermanentCarrierError("TWILIO_21612", "not reachable")

    world.carrier = Permanent()
    world.accept("m1")
    assert world.dispatch("m1").outcome == "failed"
    assert world.portals.items[PORTAL].account_holds == {}


@pytest.mark.parametrize(
    ("carrier", "code", "cause"),
    [
        ("twilio", "TWILIO_20003", holds.CREDENTIALS),
        ("twilio", "TWILIO_20005", holds.SUSPENDED),
        ("vonage", "VONAGE_4", holds.CREDENTIALS),
        ("vonage", "VONAGE_9", holds.BALANCE),
        ("smsru", "SMSRU_200", holds.CREDENTIALS),
        ("smsru", "SMSRU_201", holds.BALANCE),
        ("aws", "AWS_AccessDeniedException", holds.CREDENTIALS),
        ("twilio", "TWILIO_21612", ""),
        ("sandbox", "SANDBOX_UNREACHABLE", ""),
    ],
)
def test_each_carrier_declares_its_account_refusals(carrier: str, code: str, cause: str):
    assert carriers.account_refusal(carrier, code) == cause


def test_every_declared_cause_is_known():
    for spec in carriers.specs().values():
        assert set(spec.account_refusals.values()) <= set(holds.CAUSES), spec.name


def test_the_wait_never_outlasts_the_bound_nor_spins():
    hold = AccountHold(holds.CREDENTIALS, "X", since=0, probe_at=1000)
    assert holds.wait_seconds(hold, accepted_at=1, now=900, max_age=3600) == 100
    assert holds.wait_seconds(hold, accepted_at=1, now=990, max_age=990) == holds.MIN_DELAY
    assert holds.wait_seconds(replace(hold, probe_at=99999), accepted_at=1, now=1, max_age=99999) == holds.MAX_DELAY
    assert holds.verdict(hold, accepted_at=1, now=3601, max_age=3600) == holds.EXPIRE
    assert holds.verdict(hold, accepted_at=1, now=999, max_age=3600) == holds.WAIT
    assert holds.verdict(hold, accepted_at=1, now=1000, max_age=3600) == holds.PROBE


def test_waiting_sms_look_again_every_recheck_so_a_checked_account_sends_before_the_next_probe(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ACCOUNT_RECHECK_SECONDS", "10")
    world.accept("m1")
    world.dispatch("m1")
    assert [delay for _, delay in world.queued] == [10]
    account_hold.release_carrier(world.portals.items[PORTAL], "twilio")
    world.carrier.fixed = True
    world.clock.base += 10
    dispatch._PORTALS.clear()
    assert world.due() == ["sent"]
    assert holds.wait_seconds(AccountHold(holds.CREDENTIALS, "X", 0, 1000), 1, 900, 3600, recheck=30) == 30


def test_the_admins_are_told_once_when_the_account_is_held_and_once_when_it_recovers(world: World):
    for n in (1, 2, 3):
        world.accept(f"m{n}")
        world.dispatch(f"m{n}")
    world.clock.base += 61
    world.due()  # a refused probe: no second notification
    [(member_id, _job, calls, then, data, scope)] = world.jobs
    assert member_id == PORTAL and calls == [("user.current", {})] and then == admin_alerts.FOLLOW_UP and scope == "im"
    assert data["tag"] == "b24sms.credentials" and "TWILIO_20003" in data["message"]
    assert "[URL=https://unit.example/bitrix/app]" in data["message"]
    world.carrier.fixed = True
    world.clock.base += 61
    world.due()
    world.due()
    assert len(world.jobs) == 2 and world.jobs[1][4]["tag"] == "b24sms.credentials"  # the same TAG: it replaces
    assert "again" in world.jobs[1][4]["message"]
    [call] = admin_alerts.notify_calls(world.portals.items[PORTAL], world.jobs[1][4], {0: {"ID": "7"}})
    assert call == ("im.notify.system.add", {"USER_ID": "7", "MESSAGE": world.jobs[1][4]["message"], "TAG": "b24sms.credentials"})
    assert admin_alerts.notify_calls(world.portals.items[PORTAL], world.jobs[1][4], {}) == []


def test_the_dispatchers_copy_of_the_portal_is_dropped_before_the_admins_are_told(world: World):
    """Telling the admins takes a while (a job, a notification): an SMS of the portal dispatched
    meanwhile must not go out through the refusing account from a copy of the portal read before the
    hold was written."""
    world.accept("m1")
    world.accept("m2")
    told: list[bool] = []

    def raised(member_id: str, cause: str, code: str = "") -> None:
        told.append(PORTAL in dispatch._PORTALS)
        assert world.dispatch("m2").outcome == "held"  # dispatched while the admins are being told

    with mock.patch.object(admin_alerts, "raised", raised):
        assert world.dispatch("m1").outcome == "held"
    assert told == [False]
    assert world.carrier.calls == [f"{PORTAL}.m1"]
