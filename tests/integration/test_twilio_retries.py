"""Twilio retries a status callback we answered 5xx because the StatusCallback URL asks it to
(connection overrides, issue #17): a store hiccup in the status route does not lose the status."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from b24sms.adapters import store
from local.fakes.twilio import TwilioFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from tests.conftest import final_status
from tests.integration.test_twilio import fake, twilio  # noqa: F401 (fixtures)


def test_a_callback_answered_5xx_is_retried_by_twilio(
    portal: EmulatedPortal, emulator: PortalEmulator, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
):
    fake_twilio: TwilioFake = request.getfixturevalue("twilio")
    real = store.messages.advance_status
    refused: list[str] = []

    def busy_once(*args: Any, **kwargs: Any) -> Any:
        if args[2] == "delivered" and not refused:
            refused.append(args[1])
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "busy"}}, "UpdateItem")
        return real(*args, **kwargs)

    monkeypatch.setattr(store.messages, "advance_status", busy_once)
    retried = fake_twilio.retried
    message_id, _ = emulator.send_sms(portal, "+15550170200", "retried callback")
    assert final_status(portal, message_id) == "delivered"
    assert refused == [message_id] and fake_twilio.retried == retried + 1
