"""Opt-outs as a portal administrator meets them: a STOP reply through the carrier's signed inbound
webhook opts the number out of the portal it replied to, whether or not the portal's SMS channel is
connected to an Open Line (issue #20 item 1: an opt-out never depends on Open Lines)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from b24sms.adapters import config, store
from local.fakes.twilio import TwilioFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status

OUR_NUMBER = "+15005550006"


@pytest.fixture
def twilio(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioFake]:
    fake = TwilioFake().start()
    monkeypatch.setenv("CARRIER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", fake.account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", fake.auth_token)
    monkeypatch.setenv("TWILIO_FROM", OUR_NUMBER)
    monkeypatch.setenv("TWILIO_API_BASE", fake.base_url)
    config.reset_settings()
    yield fake
    monkeypatch.undo()
    config.reset_settings()
    fake.stop()


def test_stop_without_an_open_line_opts_the_number_out(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, twilio: TwilioFake
):
    customer = "+15550170001"
    assert not portal.active  # the SMS channel is connected to no Open Line
    first, _ = emulator.send_sms(portal, customer, "Your order has shipped")
    assert final_status(portal, first) == "delivered"
    assert [s.to for s in twilio.sent].count(customer) == 1

    answer = twilio.inbound(f"{stack.base_url}/carriers/twilio/inbound", customer, OUR_NUMBER, "STOP")
    assert answer.status_code == 200
    assert store.chats.is_opted_out(portal.member_id, customer)

    second, _ = emulator.send_sms(portal, customer, "Last chance: 20% off")
    assert final_status(portal, second) == "failed"
    assert [s.to for s in twilio.sent].count(customer) == 1  # the carrier never received the second SMS
    stored = store.messages.get_message(portal.member_id, second)
    assert stored and stored.error_code == "OPTED_OUT"

    # START opts it back in, also without a line.
    assert twilio.inbound(f"{stack.base_url}/carriers/twilio/inbound", customer, OUR_NUMBER, "start").status_code == 200
    assert not store.chats.is_opted_out(portal.member_id, customer)
