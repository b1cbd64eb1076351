"""A stored status can never stay unpushed (issue #17, defect 3): the write that advances a status
also puts the message in the sparse index ``by-push-pending``; the push that gives the portal that
status takes it out in its own write; RecoverFunction queues the push again for what stays there."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from b24sms.adapters import queues, store
from b24sms.adapters.carriers.sandbox import sign
from b24sms.domain import bitrix_statuses
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.formdata import encode_form
from b24sms.domain.models import Message
from b24sms.usecases import recovery
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until


def fail_once(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """SQS refuses the first push queued from now on; returns the keys it refused."""
    real = queues.enqueue_push
    refused: list[tuple[str, str]] = []

    def flaky(member_id: str, message_id: str, final: tuple[int, float] | None = None) -> None:
        if not refused:
            refused.append((member_id, message_id))
            raise ConnectionError("SQS unreachable")
        real(member_id, message_id, final)

    monkeypatch.setattr(queues, "enqueue_push", flaky)
    return refused


def pending(member_id: str, message_id: str) -> bool:
    return any((p.member_id, p.message_id) == (member_id, message_id) for p in store.pushes.unpushed(0, limit=10_000))


def callback(stack: LocalStack, stored: Message, status: str) -> requests.Response:
    body = encode_form({"message_id": stored.carrier_message_id, "ref": stored.key, "status": status})
    secret = stack.environment["SANDBOX_SECRET"]
    return requests.post(
        f"{stack.base_url}/carriers/sandbox/status",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Sandbox-Signature": sign(secret, body)},
        timeout=10,
    )


def test_a_status_whose_push_could_not_be_queued_reaches_the_portal(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    refused = fail_once(monkeypatch)
    message_id, _ = emulator.send_sms(portal, "+15550170001", "status lost in transit")
    wait_until(lambda: refused)  # the carrier's callback advanced the record, then SQS failed: the carrier got a 5xx
    stored = wait_until(lambda: store.messages.get_message(portal.member_id, message_id))
    wait_until(lambda: store.messages.get_message(portal.member_id, message_id).carrier_message_id)  # type: ignore[union-attr]
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.status == "delivered" and stored.pushed_rank < stored.status_rank
    retry = callback(stack, stored, "delivered")  # the carrier's retry finds the record already advanced
    assert retry.status_code == 200 and retry.json()["result"] == ["stale"]
    time.sleep(1.5)
    assert portal.timeline(message_id) == ["sent"]  # nothing else would ever push it…

    monkeypatch.setenv("PUSH_RECOVER_AFTER", "0")
    assert stack.invoke("RecoverFunction", {})["statuses_requeued"] >= 1
    assert final_status(portal, message_id) == "delivered"  # …until the sweep queues it again
    assert portal.timeline(message_id) == ["sent", "delivered"]
    wait_until(lambda: not pending(portal.member_id, message_id))  # pushed: out of the index


def test_a_failure_whose_push_could_not_be_queued_reaches_the_portal(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    refused = fail_once(monkeypatch)
    message_id, _ = emulator.send_sms(portal, "+15550170099", "refused at send")  # the sandbox rejects …0099
    wait_until(lambda: refused)
    time.sleep(3)  # the dispatch batch comes back (redelivered), finds the message rejected, queues nothing
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.status == "failed" and stored.dispatch_state == DispatchState.REJECTED
    assert portal.timeline(message_id) == ["sent"]

    assert recovery.requeue_unpushed(0) >= 1
    assert final_status(portal, message_id) == "failed"
    wait_until(lambda: not pending(portal.member_id, message_id))


@pytest.fixture
def member() -> Iterator[str]:
    member_id = f"pp-{uuid.uuid4().hex[:10]}"
    yield member_id
    store.messages.delete_portal_messages(member_id)


def advanced(member_id: str, status: str = "delivered", pushed_rank: int = 1) -> str:
    message_id = uuid.uuid4().hex
    message = Message(member_id, message_id, to="+15550170002", dispatch_state=DispatchState.SENT, pushed_rank=pushed_rank)
    assert store.messages.create_message(message)
    assert store.messages.advance_status(member_id, message_id, status, bitrix_statuses.rank(status), source="test")
    return message_id


def test_a_message_leaves_the_index_only_when_the_portal_has_its_status(stack: LocalStack, member: str):
    message_id = advanced(member, pushed_rank=0)
    assert pending(member, message_id)
    store.pushes.mark_pushed(member, message_id, 1)  # the portal has seen less than what is stored
    assert pending(member, message_id)
    store.pushes.mark_pushed(member, message_id, bitrix_statuses.rank("delivered"))
    assert not pending(member, message_id)


def test_a_sent_status_is_never_pending(stack: LocalStack, member: str):
    """Bitrix24 marks a message `sent` itself: our `sent` needs no push, and no cleanup write."""
    message_id = advanced(member, "sent")
    assert not pending(member, message_id)


def test_pushed_rank_only_rises(stack: LocalStack, member: str):
    message_id = advanced(member, "sent")
    store.pushes.mark_pushed(member, message_id, bitrix_statuses.rank(bitrix_statuses.FAILED), "ERROR_MESSAGE_NOT_FOUND")
    store.pushes.mark_pushed(member, message_id, 1)  # a stale push, later
    stored = store.messages.get_message(member, message_id)
    assert stored and stored.pushed_rank == bitrix_statuses.rank(bitrix_statuses.FAILED)
    other = advanced(member)
    store.pushes.mark_pushed(member, other, 2)
    store.pushes.mark_pushed(member, other, 1)
    stored = store.messages.get_message(member, other)
    assert stored and stored.pushed_rank == 2


def test_the_sweep_backs_off_per_message_and_cleans_up(stack: LocalStack, member: str, monkeypatch: pytest.MonkeyPatch):
    stuck = advanced(member)
    caught_up = advanced(member)
    queued: list[str] = []
    monkeypatch.setattr(queues, "enqueue_portal_push", queued.append)
    # The portal saw `caught_up` through another way (e.g. dropped with a note): only a cleanup is due.
    store.pushes.mark_pushed(member, caught_up, bitrix_statuses.rank("delivered"))
    assert not pending(member, caught_up)

    recovery.requeue_unpushed(0)
    assert queued.count(member) == 1 and not pending(member, caught_up)
    queued.clear()
    recovery.requeue_unpushed(0)  # due again only after a while: not at the next sweep
    assert member not in queued
    [entry] = [p for p in store.pushes.unpushed(0, limit=10_000, due_by=store.now() + 10**6) if p.message_id == stuck]
    first_delay = entry.since - store.now()
    assert entry.tries == 1 and first_delay > 0
    # Pretend it is due now (one more try, as a sweep would count it): the next delay is longer.
    store.pushes.retry_push_later(member, stuck, entry.since, store.now() - 1)
    recovery.requeue_unpushed(0)
    assert member in queued
    [entry] = [p for p in store.pushes.unpushed(0, limit=10_000, due_by=store.now() + 10**6) if p.message_id == stuck]
    assert entry.tries == 3 and entry.since - store.now() > first_delay


def test_the_sweep_queues_one_token_per_portal_and_the_push_drains_it(
    stack: LocalStack, member: str, monkeypatch: pytest.MonkeyPatch
):
    """Five lost pushes of one portal: the sweep queues the portal once; that token alone pushes all five."""
    from b24sms.usecases import push

    lost = [advanced(member) for _ in range(5)]
    queued: list[str] = []
    monkeypatch.setattr(queues, "enqueue_portal_push", queued.append)
    assert recovery.requeue_unpushed(0) >= 5
    assert queued.count(member) == 1
    report = push.push([(member, "")])  # the token names only the portal: no such portal installed here
    assert sorted(k[1] for k in report.dropped) == sorted(lost)
    assert not any(pending(member, m) for m in lost)


class CountingTable:
    """The messages table, counting the writes to one message's record."""

    def __init__(self, table: Any, message_id: str, writes: list[str]) -> None:
        self._table, self._message_id, self._writes = table, message_id, writes

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._table, name)
        if name not in ("put_item", "update_item", "delete_item"):
            return attr

        def write(**kwargs: Any) -> Any:
            if (kwargs.get("Key") or kwargs.get("Item") or {}).get("message_id") == self._message_id:
                self._writes.append(name)
            return attr(**kwargs)

        return write


def test_the_happy_path_costs_no_extra_write(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    """Writes to one message's record for one SMS sent and delivered: the same as before the index."""
    writes: list[str] = []
    message_id = uuid.uuid4().hex
    real = store.messages._messages
    for module in (store.messages, store.pending, store.pushes):  # every module writing a message's record
        monkeypatch.setattr(module, "_messages", lambda: CountingTable(real(), message_id, writes))
    emulator.send_sms(portal, "+15550170003", "counted", message_id=message_id)
    assert final_status(portal, message_id) == "delivered"
    time.sleep(1)
    # put (accept), claim, advance (the carrier's callback), record the carrier's id, mark pushed
    assert sorted(writes) == ["put_item"] + ["update_item"] * 4, writes
    assert not pending(portal.member_id, message_id)


def test_two_racing_pushes_of_one_status_count_it_once(stack: LocalStack, member: str):
    """A status queued again by the sweep while its first push is still in flight: both pushes read
    it unpushed; only the one whose write raises pushed_rank counts it in the day counters."""
    from b24sms.usecases import push

    message_id = advanced(member)
    stale = store.messages.get_message(member, message_id)
    assert stale
    first, second = push.PushReport(), push.PushReport()
    push._done(stale, first)
    push._done(stale, second)  # read before the first one's write landed
    assert len(first.finals) + len(second.finals) == 1
    stored = store.messages.get_message(member, message_id)
    assert stored and stored.pushed_rank == stored.status_rank
