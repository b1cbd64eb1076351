"""A carrier's status callback that we failed to store gets a 5xx, so the carrier retries (issue #17):
trouble with our own table is never the caller's fault (4xx) and never a success (200)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from b24sms.adapters import store
from b24sms.adapters.carriers.sandbox import sign
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.formdata import encode_form
from b24sms.domain.models import Message
from local.portal_emulator import EmulatedPortal
from local.stack import LocalStack


def throttled(*args: Any, **kwargs: Any) -> Any:
    raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "UpdateItem")


def unreadable(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("invalid literal for int() with base 10: 'x'")  # a stored record the code cannot read


def post(stack: LocalStack, key: str, status: str = "delivered") -> requests.Response:
    body = encode_form({"message_id": "SBX-route-errors", "ref": key, "status": status})
    return requests.post(
        f"{stack.base_url}/carriers/sandbox/status",
        params={"ref": key},  # as the sandbox calls back
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Sandbox-Signature": sign(stack.environment["SANDBOX_SECRET"], body),
        },
        timeout=10,
    )


@pytest.fixture
def sent(portal: EmulatedPortal) -> Message:
    message = Message(portal.member_id, "route-errors-1", to="+15550170100", dispatch_state=DispatchState.SENT)
    store.messages.create_message(message)
    return message


@pytest.mark.parametrize(
    ("target", "fault"),
    [("advance_status", throttled), ("get_message", throttled), ("advance_status", unreadable), ("get_message", unreadable)],
    ids=["advance-throttled", "read-throttled", "advance-unreadable", "read-unreadable"],
)
def test_a_store_failure_answers_5xx(
    stack: LocalStack, portal: EmulatedPortal, monkeypatch: pytest.MonkeyPatch, target: str, fault: Callable[..., Any]
):
    # A callback the deployment's credentials verify moves its message with no read; the route reads
    # it when the message was sent with a portal's own sender or account (usecases/status_updates.py).
    sent = Message(portal.member_id, f"route-errors-{target}", to="+15550170100", dispatch_state=DispatchState.SENT)
    if target == "get_message":
        sent = replace(sent, carrier="sandbox", carrier_sender="AcmeShop")
    store.messages.create_message(sent)
    monkeypatch.setattr(store.messages, target, fault)
    response = post(stack, sent.key)
    assert 500 <= response.status_code < 600, (response.status_code, response.text)
    monkeypatch.undo()
    assert post(stack, sent.key).json() == {"result": ["advanced"]}  # the carrier's retry lands


def test_a_malformed_callback_is_still_a_4xx(stack: LocalStack, sent: Message):
    assert post(stack, sent.key, status="no-such-status").status_code == 400
