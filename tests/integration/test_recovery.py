"""A message whose queue entry was lost is found and sent, once."""

from __future__ import annotations

import time
from typing import Any

import pytest

from b24sms.adapters import queues, store
from b24sms.adapters.carriers.sandbox import SandboxCarrier
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status


def test_a_lost_queue_entry_is_recovered_and_sent_once(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    real_enqueue = queues.enqueue_dispatch

    def sqs_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("SQS unreachable")

    monkeypatch.setattr(queues, "enqueue_dispatch", sqs_down)
    message_id, response = emulator.send_sms(portal, "+15550120001", "lost in transit")
    assert response.status_code == 500  # recorded, but not queued
    monkeypatch.setattr(queues, "enqueue_dispatch", real_enqueue)
    time.sleep(2)
    assert portal.timeline(message_id) == ["sent"]  # nothing happens by itself…

    monkeypatch.setenv("RECOVER_AFTER", "1")
    assert stack.invoke("RecoverFunction", {})["requeued"] >= 1
    assert final_status(portal, message_id) == "delivered"  # …until recovery queues it again
    assert sum(1 for key, _ in SandboxCarrier.outbox if key == f"{portal.member_id}.{message_id}") == 1
    time.sleep(1.1)
    stack.invoke("RecoverFunction", {})
    time.sleep(1)
    assert sum(1 for key, _ in SandboxCarrier.outbox if key == f"{portal.member_id}.{message_id}") == 1
    assert (portal.member_id, message_id) not in store.pending.stale_pending(0)  # sent messages leave the index


def test_messages_on_their_way_are_left_alone(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    message_id, _ = emulator.send_sms(portal, "+15550120002", "normal")
    assert final_status(portal, message_id) == "delivered"
    time.sleep(1.1)
    assert (portal.member_id, message_id) not in store.pending.stale_pending(1)
