"""The sender sync: after a public URL change or a rename, every installed portal's sender follows.

The sync is a fan-out (issue #18): SyncSendersFunction queues a message per portal on SyncQueue and
SyncPortalFunction syncs each one on its own. Each test syncs only the portals it installed
(``member_ids``), not every portal the session's other tests left behind."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from b24sms.adapters import config, store
from b24sms.usecases import bitrix_events, connector
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import sync_portals, sync_queue_depth, wait_until


@pytest.fixture
def moved_api(stack: LocalStack) -> Iterator[str]:
    """Our public URL moved. The portals a test synced to it are its own: nothing to sync back."""
    old = os.environ["PUBLIC_BASE_URL"]
    os.environ["PUBLIC_BASE_URL"] = "https://sms.example.com"
    yield "https://sms.example.com"
    os.environ["PUBLIC_BASE_URL"] = old


def installed(emulator: PortalEmulator, stack: LocalStack) -> EmulatedPortal:
    p = emulator.add_portal()
    assert emulator.install(p, f"{stack.base_url}/bitrix/install").status_code == 200
    return p


@pytest.fixture
def stale(emulator: PortalEmulator, stack: LocalStack) -> EmulatedPortal:
    return installed(emulator, stack)


def methods(p: EmulatedPortal, since: int) -> list[str]:
    return [c.method for c in p.calls[since:]]


def test_sync_points_senders_at_the_new_url_and_is_idempotent(
    portal: EmulatedPortal, stale: EmulatedPortal, stack: LocalStack, moved_api: str
):
    stale.senders["old-code"] = {"CODE": "old-code", "HANDLER": "https://old.example/h"}  # left by an earlier version
    del portal.senders["b24sms"]  # removed by hand in the portal
    before = {p.member_id: len(p.calls) for p in (portal, stale)}

    assert sync_portals(stack, portal, stale) == {"queued": 2, "next_page": False, "sqs_requests": 1}
    assert [c.params["CODE"] for c in portal.calls[before[portal.member_id] :] if c.method == "messageservice.sender.add"] == [
        "b24sms"
    ]
    stale_calls = stale.calls[before[stale.member_id] :]
    assert [c.params["CODE"] for c in stale_calls if c.method == "messageservice.sender.update"] == ["b24sms"]
    assert [c.params["CODE"] for c in stale_calls if c.method == "messageservice.sender.delete"] == ["old-code"]
    for p in (portal, stale):
        assert list(p.senders) == ["b24sms"]
        assert p.events["ONAPPUNINSTALL"] == f"{moved_api}/bitrix/events"  # the uninstall event follows
        unbound = p.calls_to("event.unbind")  # every event of the registry the portal grants, at the old URL
        assert {c.params["handler"] for c in unbound} == {f"{stack.base_url}/bitrix/events"}
        assert sorted(c.params["event"] for c in unbound) == sorted(bitrix_events.REGISTRY)
        assert p.senders["b24sms"]["HANDLER"].startswith(f"{moved_api}/bitrix/handler?portal={p.member_id}&key=")
        stored = store.portals.get_portal(p.member_id)
        assert stored and stored.registered_handler == p.senders["b24sms"]["HANDLER"]

    calls_before = len(stale.calls)
    sync_portals(stack, stale, portal)
    # Nothing to change: the senders, the bindings and the connector are only looked at.
    assert methods(stale, calls_before) == ["messageservice.sender.list", "event.get", "imconnector.list"]


def test_a_dead_portal_goes_back_to_the_queue_without_holding_the_others(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, moved_api: str
):
    others = [installed(emulator, stack), installed(emulator, stack)]
    dead = portal
    dead.down = True
    before = len(dead.calls)
    invocations = stack.invocations.get("SyncPortalFunction", 0)
    try:
        answer = stack.invoke("SyncSendersFunction", {"member_ids": [dead.member_id] + [p.member_id for p in others]})
        assert answer["queued"] == 3

        # The two others are synced while the dead one's sync is still retrying inside its own invocation
        # (the REST client makes 5 attempts over 3.75 to 7.5 s): before the fan-out they waited for it.
        wait_until(lambda: all(p.events.get("ONAPPUNINSTALL") == f"{moved_api}/bitrix/events" for p in others), timeout=10)
        assert len(dead.calls) - before < 5
        for p in others:
            assert p.senders["b24sms"]["HANDLER"].startswith(f"{moved_api}/bitrix/handler?")
        # The dead one's sync gave up (its invocation is over), and its message is back in the queue,
        # deferred, not lost.
        wait_until(lambda: stack.invocations.get("SyncPortalFunction", 0) - invocations >= 3, timeout=15)
        assert len(dead.calls) - before == 5
        assert sync_queue_depth(stack) == 1
        assert dead.events["ONAPPUNINSTALL"] == f"{stack.base_url}/bitrix/events"
    finally:
        dead.down = False
    # Redelivered after its back-off (SYNC_RETRY_BASE, 1 s here; the queue's visibility is 60 s, see
    # tests/conftest.py), it syncs once the portal is back.
    wait_until(lambda: dead.events.get("ONAPPUNINSTALL") == f"{moved_api}/bitrix/events", timeout=15)
    wait_until(lambda: sync_queue_depth(stack) == 0, timeout=10)
    assert dead.senders["b24sms"]["HANDLER"].startswith(f"{moved_api}/bitrix/handler?")


def test_three_portals_through_the_queue_are_all_restored(emulator: PortalEmulator, stack: LocalStack):
    portals = [installed(emulator, stack) for _ in range(3)]
    for p in portals:
        p.senders.clear()  # as an application update leaves them
        del p.events["ONAPPUPDATE"]
    invocations = stack.invocations.get("SyncPortalFunction", 0)

    assert sync_portals(stack, *portals) == {"queued": 3, "next_page": False, "sqs_requests": 1}
    assert stack.invocations.get("SyncPortalFunction", 0) - invocations >= 3  # a portal per invocation
    for p in portals:
        assert list(p.senders) == ["b24sms"] and p.events["ONAPPUPDATE"] == bitrix_events.events_url()


def test_the_installed_portals_page_through_the_table_with_keys_a_message_can_carry(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    gone = installed(emulator, stack)
    store.portals.mark_uninstalled(gone.member_id)
    seen: list[str] = []
    start = None
    while True:
        ids, start = store.portals.installed_page(start, 3)
        assert len(ids) <= 3
        seen.extend(ids)
        if start is None:
            break
        assert json.loads(json.dumps(start)) == start  # it travels in the continuation message
    assert portal.member_id in seen and gone.member_id not in seen
    assert len(seen) == len(set(seen))


@pytest.fixture
def new_url(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The deployment's public URL changed (a new stage, a custom domain); put back afterwards."""
    old = os.environ["PUBLIC_BASE_URL"]
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://sms.moved.example")
    config.reset_settings()
    yield "https://sms.moved.example"
    monkeypatch.setenv("PUBLIC_BASE_URL", old)
    config.reset_settings()


def test_sync_moves_every_event_binding_and_the_connector_to_the_new_url(portal: EmulatedPortal, stack: LocalStack, new_url: str):
    assert set(portal.events) == set(bitrix_events.REGISTRY)  # installed: the uninstall and Open Lines events
    assert portal.connectors[connector.connector_id()]["PLACEMENT_HANDLER"] == f"{stack.base_url}/bitrix/connector"

    sync_portals(stack, portal)

    # Every binding follows (before the fix only ONAPPUNINSTALL did: two-way SMS went to the old URL).
    assert portal.events == {name: f"{new_url}/bitrix/events" for name in bitrix_events.REGISTRY}
    assert portal.connectors[connector.connector_id()]["PLACEMENT_HANDLER"] == f"{new_url}/bitrix/connector"
