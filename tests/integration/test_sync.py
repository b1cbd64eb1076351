"""The sender sync: after a public URL change or a rename, every installed portal's sender follows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from b24sms import storage
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
        assert [c.params["handler"] for c in p.calls_to("event.unbind")] == [f"{stack.base_url}/bitrix/events"]
        assert p.senders["b24sms"]["HANDLER"].startswith(f"{moved_api}/bitrix/handler?portal={p.member_id}&key=")
        stored = storage.get_portal(p.member_id)
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
    assert [c.method for c in stale.calls[calls_before:]] == ["messageservice.sender.list"]


def test_sync_reports_a_portal_it_cannot_reach_and_goes_on(portal: EmulatedPortal, stack: LocalStack, moved_api: str):
    portal.down = True
    try:
        result = stack.invoke("SyncSendersFunction", {})
    finally:
        portal.down = False
    assert report_for(result, portal)["error"].startswith("INTERNAL_SERVER_ERROR")
    assert result["errors"] >= 1
