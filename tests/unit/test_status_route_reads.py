"""Issue #18 item 4, the status route's read: a callback naming our message is verified with the
deployment's credentials first, and then moves the message with no GetItem before the write, on the
condition that the message was sent with them (no portal-own sender or credentials recorded on it).
A portal's own account costs the read, as before; a callback nobody's credentials verify is refused
with nothing written. On the in-memory stand-ins (local/memory), which count requests; the sandbox
carrier signs with "dep" for the deployment and "own" for a portal's own account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from b24sms.adapters.carriers import CallbackRequest, SignatureError
from b24sms.adapters.carriers.sandbox import SandboxCarrier, sign
from b24sms.domain.models import CarrierConfig, Message
from b24sms.usecases import status_updates
from local.memory.world import World

PORTAL = "p-route"


def carrier_for(name: str, config: CarrierConfig | None = None) -> SandboxCarrier:
    return SandboxCarrier("own" if config is not None and config.credentials else "dep")


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = World()
    w.add_portal(PORTAL)
    with w.installed():
        monkeypatch.setattr(status_updates, "get_carrier", carrier_for)
        yield w


def _sent(world: World, message_id: str, credentials: str = "", sender: str = "") -> None:
    world.messages.items[(PORTAL, message_id)] = Message(
        PORTAL,
        message_id,
        status="sent",
        status_rank=1,
        carrier="sandbox",
        carrier_message_id=f"c-{message_id}",
        carrier_credentials=credentials,
        carrier_sender=sender,
    )


def _callback(message_id: str, secret: str, status: str = "delivered") -> CallbackRequest:
    key = f"{PORTAL}.{message_id}"
    body = urlencode({"message_id": f"c-{message_id}", "ref": key, "status": status, "ts": 1})
    return CallbackRequest(
        f"https://sms.example/carriers/sandbox/status?ref={key}", {"x-sandbox-signature": sign(secret, body)}, body, {"ref": key}
    )


def _requests(world: World) -> dict[str, Any]:
    return {k: v for k, v in world.meter.requests.items() if k.startswith("messages.")}


def test_the_deployments_callback_moves_the_message_with_no_read(world: World) -> None:
    _sent(world, "m1")
    assert status_updates.receive("sandbox", _callback("m1", "dep")) == ["advanced"]
    assert world.messages.items[(PORTAL, "m1")].status == "delivered"
    assert _requests(world) == {"messages.UpdateItem": 1}  # before: a GetItem first, to pick the credentials


def test_a_repeated_callback_is_stale_and_writes_nothing(world: World) -> None:
    _sent(world, "m1")
    status_updates.receive("sandbox", _callback("m1", "dep"))
    assert status_updates.receive("sandbox", _callback("m1", "dep")) == ["stale"]


def test_a_portals_own_account_still_verifies_by_the_read(world: World) -> None:
    _sent(world, "m2", credentials="b24sms/local/p-route/sandbox")
    assert status_updates.receive("sandbox", _callback("m2", "own")) == ["advanced"]
    assert world.messages.items[(PORTAL, "m2")].status == "delivered"
    assert world.meter.requests["messages.GetItem"] == 1


@pytest.mark.parametrize("own", [{"credentials": "b24sms/local/p-route/sandbox"}, {"sender": "MyShop"}])
def test_the_deployments_signature_does_not_move_a_message_sent_with_a_portals_own_account(
    world: World, own: dict[str, str]
) -> None:
    _sent(world, "m3", **own)
    if own.get("sender"):  # a sender of its own with the deployment's credentials: verified by the read path
        assert status_updates.receive("sandbox", _callback("m3", "dep")) == ["advanced"]
        assert world.meter.requests["messages.GetItem"] >= 1
        return
    with pytest.raises(SignatureError):
        status_updates.receive("sandbox", _callback("m3", "dep"))
    assert world.messages.items[(PORTAL, "m3")].status == "sent"  # nothing written


def test_a_bad_signature_is_refused_with_nothing_written(world: World) -> None:
    _sent(world, "m4")
    with pytest.raises(SignatureError):
        status_updates.receive("sandbox", _callback("m4", "forged"))
    assert world.messages.items[(PORTAL, "m4")].status == "sent"
    assert world.meter.requests["messages.UpdateItem"] == 0
