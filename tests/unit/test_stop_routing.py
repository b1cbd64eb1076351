"""Which portal a STOP/START reply opts the number out of when no Open Line takes it
(usecases/inbound._replied_portal): the portal that last texted the number, unless the number the reply
was sent to is another portal's; else the only portal sending from that number; else none."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from b24sms.domain.models import Portal
from b24sms.usecases import inbound

A_NUMBER, B_NUMBER = "+15005550006", "+15005550007"


def portal(member_id: str, number: str, status: str = "installed") -> Portal:
    return Portal(member_id, "https://x.example/rest/", status=status, carrier_config={"carrier": "twilio", "sender": number})


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    w = SimpleNamespace(
        portals={"a": portal("a", A_NUMBER), "b": portal("b", B_NUMBER), "gone": portal("gone", A_NUMBER, "uninstalled")},
        routes={A_NUMBER: ["a"], B_NUMBER: ["b"]},
        last={},
    )
    chats = SimpleNamespace(route_portals=lambda n: w.routes.get(n, []), recipient_portal=lambda p: w.last.get(p, ""))
    monkeypatch.setattr(inbound, "store", SimpleNamespace(chats=chats, portals=SimpleNamespace(get_portal=w.portals.get)))
    return w


def replied(sender: str, to: str) -> str:
    found = inbound._replied_portal(sender, to)
    return found.member_id if found else ""


def test_the_portal_that_texted_the_number_when_the_reply_went_to_its_number(world: SimpleNamespace) -> None:
    world.last["+15550170001"] = "a"
    assert replied("+15550170001", A_NUMBER) == "a"


def test_not_the_last_texter_when_the_reply_went_to_another_portals_number(world: SimpleNamespace) -> None:
    world.last["+15550170001"] = "a"
    assert replied("+15550170001", B_NUMBER) == "b"


def test_the_numbers_only_portal_when_nobody_texted_it_and_none_when_unsure(world: SimpleNamespace) -> None:
    assert replied("+15550170002", A_NUMBER) == "a"
    world.routes[A_NUMBER] = ["a", "c"]
    world.portals["c"] = portal("c", A_NUMBER)
    assert replied("+15550170002", A_NUMBER) == ""  # two portals send from it: nobody is opted out by guess
    assert replied("+15550170002", "+15005550999") == ""  # a number of nobody's


def test_an_uninstalled_last_texter_is_not_followed(world: SimpleNamespace) -> None:
    world.last["+15550170003"] = "gone"
    assert replied("+15550170003", A_NUMBER) == "a"
