"""Issue #18 item 4, the handler's read: the HANDLER keeps an authenticated portal a few seconds per
warm Lambda (``HANDLER_PORTAL_CACHE``, default 5 s) instead of one consistent GetItem per SMS, and keeps
every guarantee of the authentication: a failure is never kept as a success, a rotated secret (the
HANDLER key, the application token) is honoured at once, an uninstall within those seconds, a sender
added a moment ago is known at once. On the in-memory stand-ins (local/memory), which count requests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from b24sms.domain.errors import Forbidden, NotAuthenticated
from b24sms.usecases import accept
from local.memory.world import World

PORTAL = "p-cache"
KEY = {"portal": PORTAL, "key": f"k-{PORTAL}"}


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.add_portal(PORTAL)
    with w.installed():
        yield w


def _reads(world: World) -> int:
    return world.meter.requests["portals.GetItem"]


def test_a_campaign_reads_the_portal_once_per_few_seconds(world: World) -> None:
    for _ in range(20):
        assert accept.authenticate_handler(KEY).member_id == PORTAL
        world.clock.sleep(0.1)
    assert _reads(world) == 1  # before: 20, one consistent GetItem per HANDLER call
    world.clock.sleep(5.0)  # past HANDLER_PORTAL_CACHE: read again
    accept.authenticate_handler(KEY)
    assert _reads(world) == 2


def test_the_setting_zero_reads_every_call(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDLER_PORTAL_CACHE", "0")
    for _ in range(3):
        accept.authenticate_handler(KEY)
    assert _reads(world) == 3


def test_an_uninstall_is_refused_within_the_cache_time(world: World) -> None:
    accept.authenticate_handler(KEY)
    world.portals.items[PORTAL] = replace(world.portals.items[PORTAL], status="uninstalled", handler_secret="")
    world.clock.sleep(5.0)
    with pytest.raises(NotAuthenticated):
        accept.authenticate_handler(KEY)


def test_a_failed_authentication_is_not_kept(world: World) -> None:
    with pytest.raises(NotAuthenticated):
        accept.authenticate_handler({"portal": PORTAL, "key": "wrong"})
    with pytest.raises(NotAuthenticated):
        accept.authenticate_handler({"portal": PORTAL, "key": "wrong"})
    assert _reads(world) == 2  # each refusal read the portal: nothing was kept
    world.portals.items[PORTAL] = replace(world.portals.items[PORTAL], status="uninstalled", handler_secret="")
    with pytest.raises(NotAuthenticated):
        accept.authenticate_handler(KEY)
    with pytest.raises(NotAuthenticated):  # an uninstalled portal is read again on every call
        accept.authenticate_handler(KEY)


def test_a_rotated_handler_key_is_honoured_at_once(world: World) -> None:
    accept.authenticate_handler(KEY)
    world.portals.items[PORTAL] = replace(world.portals.items[PORTAL], handler_secret="k-new")
    portal = accept.authenticate_handler({"portal": PORTAL, "key": "k-new"})  # the kept portal has the old key
    assert portal.handler_secret == "k-new"
    with pytest.raises(NotAuthenticated):  # and the old key no longer works, kept or not
        accept.authenticate_handler(KEY)


def test_a_rotated_application_token_is_honoured_at_once(world: World) -> None:
    world.portals.items[PORTAL] = replace(world.portals.items[PORTAL], application_token="old")
    portal = accept.authenticate_handler(KEY)
    world.portals.items[PORTAL] = replace(world.portals.items[PORTAL], application_token="new")
    auth = {"auth": {"member_id": PORTAL, "application_token": "new"}}
    assert accept.check_auth_block(portal, auth).application_token == "new"
    with pytest.raises(Forbidden):
        accept.check_auth_block(accept.authenticate_handler(KEY), {"auth": {"member_id": PORTAL, "application_token": "old"}})


def test_an_uninstall_seen_by_the_auth_block_read_refuses(world: World) -> None:
    portal = accept.authenticate_handler(KEY)
    world.portals.items[PORTAL] = replace(world.portals.items[PORTAL], status="uninstalled", handler_secret="")
    with pytest.raises(NotAuthenticated):
        accept.check_auth_block(portal, {"auth": {"member_id": PORTAL, "application_token": "any"}})


def test_a_sender_added_a_moment_ago_is_known_at_once(world: World) -> None:
    portal = accept.authenticate_handler(KEY)
    senders = {"b24sms_2": {"name": "Second"}}
    world.portals.items[PORTAL] = replace(world.portals.items[PORTAL], senders=senders)
    form = {"message_id": "m1", "message_to": "+79161234567", "message_body": "hi", "code": "b24sms_2"}
    assert accept.parse_outgoing(form, accept.sender_codes(portal, form)).code == "b24sms_2"
    reads = _reads(world)
    assert accept.sender_codes(accept.authenticate_handler(KEY), form) == senders  # kept now
    assert _reads(world) == reads
