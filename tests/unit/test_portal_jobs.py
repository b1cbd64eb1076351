"""Portal jobs (usecases/portal_jobs.py): REST calls other than status pushes, made in the portal's
push turn after its statuses, batched, retried without making a call twice, and dropped (logged) when
the portal refuses them for good. On in-memory stand-ins (the push's fleet fakes, ``MemoryJobs``)."""

from __future__ import annotations

import logging
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from b24sms.adapters import queues
from b24sms.adapters.bitrix import BitrixError, PortalUnavailable
from b24sms.adapters.bitrix.client import BatchResult
from b24sms.domain.models import Portal
from b24sms.usecases import portal_jobs, push, status_queue
from local.memory.jobs import MemoryJobs
from tests.unit.test_push_fleet import FakeLimits, FakeMessages, records


class JobsPortal:
    """A portal that answers ``batch`` calls: each command's result, or the error a test sets for a method
    (``refuse``), or the whole call failing while ``down``."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, dict[str, Any]]]] = []  # each batch call's commands, in order
        self.refuse: dict[str, str] = {}  # method -> error code answered for each of its commands
        self.down = False
        self.results: dict[str, Any] = {}  # method -> result

    def methods(self) -> list[str]:
        return [m for call in self.calls for m, _ in call]


class JobsClient:
    def __init__(self, portal: JobsPortal) -> None:
        self.portal = portal
        self.requests_made = 0
        self.timeout: float | tuple[float, float] = 10.0

    def batch(self, commands: dict[str, tuple[str, dict[str, Any]]], halt: bool = False) -> BatchResult:
        self.requests_made += 1
        if self.portal.down:
            raise PortalUnavailable("NETWORK_ERROR", "ConnectionError", 0, "batch")
        assert len(commands) <= 50
        self.portal.calls.append(list(commands.values()))
        out = BatchResult()
        for key, (method, _params) in commands.items():
            if method in self.portal.refuse:
                out.errors[key] = BitrixError(self.portal.refuse[method], "", 200, method)
            else:
                out.results[key] = self.portal.results.get(method, True)
        return out

    def call(self, method: str, params: dict[str, Any]) -> Any:
        self.requests_made += 1
        self.portal.calls.append([(method, params)])
        return True


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    messages, limits, jobs, portal = FakeMessages(), FakeLimits(), MemoryJobs(), JobsPortal()
    granted = {"p1": "messageservice,crm,im"}
    portals = SimpleNamespace(get_portal=lambda m: Portal(m, "https://p.example/rest/", scope=granted.get(m, "messageservice")))
    monkeypatch.setattr(
        push,
        "store",
        SimpleNamespace(messages=messages, pushes=messages, counters=messages, portals=portals, limits=limits, jobs=jobs),
    )
    monkeypatch.setattr(push, "client_for", lambda p, max_wait=10.0, fail_fast=False: JobsClient(portal))
    delays: dict[str, int] = {}
    monkeypatch.setattr(queues, "delay_redelivery", lambda arn, handle, seconds: delays.__setitem__(handle, seconds))
    monkeypatch.setattr(push, "retry_delay", lambda receives: 5 * receives)
    waits: list[dict[str, int]] = []  # delayed portal tokens (status_queue.py)
    monkeypatch.setattr(queues, "enqueue_portal_waits", waits.append)
    return SimpleNamespace(messages=messages, jobs=jobs, portal=portal, delays=delays, waits=waits)


def note(n: int) -> tuple[str, dict[str, Any]]:
    return ("im.notify.system.add", {"USER_ID": 1, "MESSAGE": f"note {n}"})


def test_jobs_go_after_the_statuses_in_batches_of_fifty_and_are_made_once(world: SimpleNamespace) -> None:
    for n in range(60):
        world.jobs.add("p1", portal_jobs.Job(f"j{n:02}", [note(n)], scope="im"))
    world.messages.advance("p1", "m1")
    status_queue.push_records(records(("p1", "m1"), ("p1", "")))
    methods = world.portal.methods()
    assert methods[0] == "messageservice.message.status.update"  # statuses first in the portal's turn
    assert methods[1:] == ["im.notify.system.add"] * 50  # JOBS_PER_DRAIN in one batch call
    assert len(world.portal.calls) == 2 and len(world.jobs.jobs["p1"]) == 10
    # more than one drain takes: a portal token comes back at once, and the rest are made
    assert world.waits == [{"p1": 0}] and not world.delays
    status_queue.push_records(records(("p1", "")))
    assert world.jobs.jobs["p1"] == {} and world.portal.methods().count("im.notify.system.add") == 60


def test_a_follow_up_makes_the_next_calls_from_the_results_in_the_same_turn(world: SimpleNamespace) -> None:
    seen: list[dict[int, Any]] = []

    def follow(portal: Portal, data: dict[str, Any], results: dict[int, Any]) -> list[tuple[str, dict[str, Any]]]:
        seen.append(results)
        return [("crm.timeline.logmessage.add", {"fields": {"entityId": i, "text": data["text"]}}) for i in results[0]]

    portal_jobs.register("test-follow", follow)
    world.portal.results["crm.duplicate.findbycomm"] = [3, 4]
    world.jobs.add("p1", portal_jobs.Job("f1", [("crm.duplicate.findbycomm", {})], then="test-follow", data={"text": "x"}))
    status_queue.push_records(records(("p1", "")))
    assert world.portal.methods() == ["crm.duplicate.findbycomm"] + ["crm.timeline.logmessage.add"] * 2
    assert seen == [{0: [3, 4]}] and world.jobs.jobs["p1"] == {}


@pytest.mark.parametrize("code", ["OWNER_NOT_FOUND", "ACCESS_DENIED", "NOT_FOUND"])
def test_an_item_that_is_gone_is_dropped_with_a_log_line_not_retried(
    world: SimpleNamespace, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    world.portal.refuse["crm.timeline.logmessage.add"] = code
    world.jobs.add("p1", portal_jobs.Job("gone", [("crm.timeline.logmessage.add", {"fields": {}})], scope="crm"))
    with caplog.at_level(logging.WARNING):
        result = status_queue.push_records(records(("p1", "")))
    assert not result.failures and world.jobs.jobs["p1"] == {}
    assert any("dropped" in r.getMessage() and getattr(r, "error", "") == code for r in caplog.records)
    status_queue.push_records(records(("p1", "")))
    assert len(world.portal.calls) == 1  # never tried again


def test_a_portal_that_is_down_keeps_its_jobs_and_its_token_backs_off(world: SimpleNamespace) -> None:
    world.jobs.add("p1", portal_jobs.Job("n1", [note(1)]))
    world.portal.down = True
    result = status_queue.push_records(records(("p1", "")))
    assert result.failures and list(world.delays.values()) == [5]
    assert "n1" in world.jobs.jobs["p1"]
    world.portal.down = False
    status_queue.push_records(records(("p1", "")))
    assert world.portal.methods() == ["im.notify.system.add"] and world.jobs.jobs["p1"] == {}


def test_a_transient_error_keeps_only_the_calls_not_made(world: SimpleNamespace) -> None:
    """No call is made twice: a job whose first call went through keeps only its second."""
    world.portal.refuse["crm.timeline.logmessage.add"] = "INTERNAL_SERVER_ERROR"
    world.jobs.add("p1", portal_jobs.Job("two", [note(1), ("crm.timeline.logmessage.add", {"fields": {}})]))
    result = status_queue.push_records(records(("p1", "")))
    assert result.failures
    assert world.jobs.jobs["p1"]["two"].calls == [("crm.timeline.logmessage.add", {"fields": {}})]
    del world.portal.refuse["crm.timeline.logmessage.add"]
    status_queue.push_records(records(("p1", "")))
    assert world.portal.methods() == ["im.notify.system.add", "crm.timeline.logmessage.add", "crm.timeline.logmessage.add"]
    assert world.jobs.jobs["p1"] == {}


def test_a_job_whose_scope_was_not_granted_is_dropped_without_a_call(world: SimpleNamespace) -> None:
    world.jobs.add("p2", portal_jobs.Job("crm", [("crm.timeline.logmessage.add", {})], scope="crm"))
    status_queue.push_records(records(("p2", "")))
    assert world.portal.calls == [] and world.jobs.jobs["p2"] == {}


def test_without_the_portals_token_no_job_is_read(world: SimpleNamespace) -> None:
    """A status record alone costs no Query of the portal's jobs (jobs wake the push with a token)."""
    world.jobs.add("p1", portal_jobs.Job("n1", [note(1)]))
    world.messages.advance("p1", "m1")
    status_queue.push_records(records(("p1", "m1")))
    assert world.jobs.requests["Query"] == 0 and "n1" in world.jobs.jobs["p1"]


@pytest.fixture
def woken(world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Failure entries are kept by timeline.ended through portal_jobs.add: into the same stand-in."""
    tokens: list[tuple[str, int]] = []
    monkeypatch.setattr(portal_jobs, "store", SimpleNamespace(jobs=world.jobs))
    monkeypatch.setattr(queues, "enqueue_portal_push", lambda member_id, delay=0: tokens.append((member_id, delay)))
    return tokens


def failed_with_bindings(world: SimpleNamespace, message_id: str) -> None:
    world.messages.advance("p1", message_id, "failed")
    key = ("p1", message_id)
    world.messages.items[key] = replace(world.messages.items[key], bindings=[[3, 17]], error_code="OPTED_OUT")


def test_a_failures_entries_go_in_the_same_turn_after_its_status(world: SimpleNamespace, woken: list[Any]) -> None:
    failed_with_bindings(world, "m1")
    result = status_queue.push_records(records(("p1", "m1")))
    assert not result.failures and woken == []
    assert world.portal.methods() == ["messageservice.message.status.update", "crm.timeline.logmessage.add"]
    assert world.jobs.jobs["p1"] == {}


def test_failure_entries_the_portal_could_not_take_get_a_token_of_their_own(world: SimpleNamespace, woken: list[Any]) -> None:
    """The receive held no portal token: the entries must not wait for one that never comes."""
    world.portal.refuse["crm.timeline.logmessage.add"] = "INTERNAL_SERVER_ERROR"
    failed_with_bindings(world, "m1")
    result = status_queue.push_records(records(("p1", "m1")))
    assert not result.failures  # the status itself was pushed
    assert woken == [("p1", 5)] and len(world.jobs.jobs["p1"]) == 1
