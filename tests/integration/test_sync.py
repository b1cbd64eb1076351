"""The sender sync: after a public URL change or a rename, every installed portal's sender follows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from b24sms.adapters import config, store
from b24sms.usecases import connector, events
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack


@pytest.fixture
def moved_api(stack: LocalStack) -> Iterator[str]:
    old = os.environ["PUBLIC_BASE_URL"]
    os.environ["PUBLIC_BASE_URL"] = "https://sms.example.com"
    yield "https://sms.example.com"
    os.environ["PUBLIC_BASE_URL"] = old
    stack.invoke("SyncSendersFunction", {})


def report_for(result: dict[str, Any], portal: EmulatedPortal) -> dict[str, Any]:
    return next(r for r in result["reports"] if r["member_id"] == portal.member_id)


@pytest.fixture
def stale(emulator: PortalEmulator, stack: LocalStack) -> EmulatedPortal:
    p = emulator.add_portal()
    emulator.install(p, f"{stack.base_url}/bitrix/install")
    return p


def test_sync_points_senders_at_the_new_url_and_is_idempotent(
    portal: EmulatedPortal, stale: EmulatedPortal, stack: LocalStack, moved_api: str
):
    stale.senders["old-code"] = {"CODE": "old-code", "HANDLER": "https://old.example/h"}  # left by an earlier version
    del portal.senders["b24sms"]  # removed by hand in the portal

    first = stack.invoke("SyncSendersFunction", {})
    assert report_for(first, portal)["added"] == ["b24sms"]
    assert report_for(first, stale)["updated"] == ["b24sms"]
    assert report_for(first, stale)["deleted"] == ["old-code"]
    for p in (portal, stale):
        assert list(p.senders) == ["b24sms"]
        assert p.events["ONAPPUNINSTALL"] == f"{moved_api}/bitrix/events"  # the uninstall event follows
        unbound = p.calls_to("event.unbind")  # every event of the registry the portal grants, at the old URL
        assert {c.params["handler"] for c in unbound} == {f"{stack.base_url}/bitrix/events"}
        assert sorted(c.params["event"] for c in unbound) == sorted(events.REGISTRY)
        assert p.senders["b24sms"]["HANDLER"].startswith(f"{moved_api}/bitrix/handler?portal={p.member_id}&key=")
        stored = store.portals.get_portal(p.member_id)
        assert stored and stored.registered_handler == p.senders["b24sms"]["HANDLER"]

    calls_before = len(stale.calls)
    second = stack.invoke("SyncSendersFunction", {})
    assert report_for(second, stale) == {
        **report_for(second, stale),
        "added": [],
        "updated": [],
        "deleted": [],
        "unchanged": ["b24sms"],
    }
    assert report_for(second, portal)["unchanged"] == ["b24sms"]
    # Nothing to change: the senders, the bindings and the connector are only looked at.
    assert [c.method for c in stale.calls[calls_before:]] == ["messageservice.sender.list", "event.get", "imconnector.list"]


def test_sync_reports_a_portal_it_cannot_reach_and_goes_on(portal: EmulatedPortal, stack: LocalStack, moved_api: str):
    portal.down = True
    try:
        result = stack.invoke("SyncSendersFunction", {})
    finally:
        portal.down = False
    assert report_for(result, portal)["error"].startswith("INTERNAL_SERVER_ERROR")
    assert result["errors"] >= 1


@pytest.fixture
def new_url(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The deployment's public URL changed (a new stage, a custom domain); put back afterwards."""
    old = os.environ["PUBLIC_BASE_URL"]
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://sms.moved.example")
    config.reset_settings()
    yield "https://sms.moved.example"
    monkeypatch.setenv("PUBLIC_BASE_URL", old)
    config.reset_settings()
    stack.invoke("SyncSendersFunction", {})


def test_sync_moves_every_event_binding_and_the_connector_to_the_new_url(portal: EmulatedPortal, stack: LocalStack, new_url: str):
    assert set(portal.events) == set(events.REGISTRY)  # installed: the uninstall and Open Lines events
    assert portal.connectors[connector.connector_id()]["PLACEMENT_HANDLER"] == f"{stack.base_url}/bitrix/connector"

    stack.invoke("SyncSendersFunction", {})

    # Every binding follows (before the fix only ONAPPUNINSTALL did: two-way SMS went to the old URL).
    assert portal.events == {name: f"{new_url}/bitrix/events" for name in events.REGISTRY}
    assert portal.connectors[connector.connector_id()]["PLACEMENT_HANDLER"] == f"{new_url}/bitrix/connector"
