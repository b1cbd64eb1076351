"""The page's use cases (usecases/page/) on the in-memory stand-ins of local/memory/: what an
administrator's changes do to the portal's record, the portal and the audit log, without moto or a
server (the HTTP edge, the session token and the templates stay with tests/integration and
tests/browser)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from b24sms.domain.errors import Forbidden, NotAuthenticated, NotFound
from b24sms.usecases import page
from b24sms.usecases.page_session import Session
from local.memory.world import World

PORTAL = "p-page"
ADMIN = Session(PORTAL, "1", True, "en", 0, install="i1")


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.add_portal(PORTAL)
    w.portals.items[PORTAL] = replace(w.portals.items[PORTAL], install_id="i1")
    with w.installed():
        yield w


def _sender_codes(world: World) -> list[str]:
    portal = world.portals.get_portal(PORTAL)
    assert portal is not None
    return sorted(portal.senders)


def test_a_removed_senders_code_is_never_handed_out_again(world: World):
    assert page.add_sender(ADMIN, "Sales") == "b24sms_2"
    assert page.add_sender(ADMIN, "Support") == "b24sms_3"
    page.delete_sender(ADMIN, "b24sms_3")
    assert _sender_codes(world) == ["b24sms_2"]
    assert page.add_sender(ADMIN, "Support again") == "b24sms_4"  # not b24sms_3: the portal's CRM may still name it
    assert _sender_codes(world) == ["b24sms_2", "b24sms_4"]
    assert world.sim_portals[PORTAL].requests == 4  # each change registered on the portal


def test_every_change_is_audited_under_the_administrator_who_made_it(world: World):
    page.add_sender(ADMIN, "Sales")
    page.rename_sender(ADMIN, "b24sms_2", "Sales EU")
    page.add_opt_out(ADMIN, "+1 555 010 0100")
    log = world.audit.audit_log(PORTAL)
    assert [(e["user"], e["action"]) for e in log] == [
        ("1", "opt-out added"),
        ("1", "sender renamed"),
        ("1", "sender added"),
    ]
    assert "5550100100" not in str(log)  # the number is masked in the audit log


def test_a_non_administrator_changes_nothing(world: World):
    viewer = replace(ADMIN, user_id="7", admin=False)
    with pytest.raises(Forbidden):
        page.add_sender(viewer, "Sales")
    with pytest.raises(Forbidden):
        page.add_opt_out(viewer, "+15550100100")
    assert _sender_codes(world) == [] and world.audit.audit_log(PORTAL) == [] and world.chats.opt_outs(PORTAL) == []


def test_a_session_from_before_a_reinstall_changes_nothing(world: World):
    world.portals.items[PORTAL] = replace(world.portals.items[PORTAL], install_id="i2")
    with pytest.raises(NotAuthenticated):
        page.add_sender(ADMIN, "Sales")
    assert _sender_codes(world) == []


def test_an_opt_out_is_stored_normalised_and_removed_by_its_reference(world: World):
    page.add_opt_out(ADMIN, "+1 (555) 010-0100")
    [entry] = world.chats.opt_outs(PORTAL)
    assert entry["phone"] == "+15550100100" and entry["source"] == "page"
    world.add_portal("p-other")
    other = replace(ADMIN, member_id="p-other", install="")
    with pytest.raises(NotFound):  # another portal's administrator cannot remove it
        page.remove_opt_out(other, page.opt_out_ref(other, "+15550100100"))
    assert len(world.chats.opt_outs(PORTAL)) == 1
    page.remove_opt_out(ADMIN, page.opt_out_ref(ADMIN, "+15550100100"))
    assert world.chats.opt_outs(PORTAL) == []
