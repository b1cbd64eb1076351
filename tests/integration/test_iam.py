"""The local stack runs each function with its deployed role's permissions (local/iam/): what a function
does on a retry path uses only what its role grants, and a portal down for a (scaled) day loses no status."""

from __future__ import annotations

import secrets

import pytest

from b24sms.adapters import queues, store
from b24sms.adapters.bitrix.client import BitrixClient
from b24sms.adapters.carriers import CarrierThrottled, OutboundSms, SendResult
from b24sms.adapters.carriers.sandbox import SandboxCarrier
from b24sms.domain import statuses
from b24sms.domain.models import Message
from b24sms.domain.states import DispatchState
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status

DELAY = "sqs:ChangeMessageVisibility"
REAL_SEND = SandboxCarrier.send


def delivered_status(portal: EmulatedPortal) -> str:
    """A message the carrier delivered, its status not yet pushed to the portal."""
    message_id = secrets.token_hex(16)
    store.messages.create_message(
        Message(
            member_id=portal.member_id, message_id=message_id, to="+15550000000", code="b24sms", dispatch_state=DispatchState.SENT
        )
    )
    store.messages.advance_status(portal.member_id, message_id, "delivered", statuses.rank("delivered"), source="test")
    portal.messages[message_id] = ["sent"]
    return message_id


def denied_to(stack: LocalStack, function: str) -> list[object]:
    return [c for c in stack.iam.denied() if c.function == function]


@pytest.fixture
def quick_client_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The REST client's own retries within one invocation (0.5 s doubling) made quick."""
    defaults = BitrixClient.__init__.__kwdefaults__
    assert defaults is not None and "backoff" in defaults
    monkeypatch.setitem(defaults, "backoff", 0.001)


@pytest.mark.usefixtures("quick_client_retries")
def test_a_deferred_status_push_delays_its_own_queue_message(portal: EmulatedPortal, stack: LocalStack):
    """Defect 1: the push function's back-off (sqs:ChangeMessageVisibility) was granted to no role."""
    message_id = delivered_status(portal)
    before = stack.iam.count("PushFunction", DELAY)
    portal.fail_next(5, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests")  # the client's five attempts
    queues.enqueue_push(portal.member_id, message_id)
    assert final_status(portal, message_id) == "delivered"
    assert not portal.failures
    assert stack.iam.count("PushFunction", DELAY) > before, "not deferred with the function's own permissions"
    assert denied_to(stack, "PushFunction") == []


def test_a_throttled_send_delays_its_own_queue_message(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    """Defect 1, the dispatch side: a carrier's 429 leaves the outbound message for later."""
    throttles = {"left": 1}

    def busy(self: SandboxCarrier, sms: OutboundSms) -> SendResult:
        if throttles["left"]:
            throttles["left"] -= 1
            raise CarrierThrottled("HTTP_429", "too many requests", retry_after=1)
        return REAL_SEND(self, sms)

    monkeypatch.setattr(SandboxCarrier, "send", busy)
    before = stack.iam.count("DispatchFunction", DELAY)
    message_id, _ = emulator.send_sms(portal, "+15550400003", "later")
    assert final_status(portal, message_id) == "delivered"
    assert stack.iam.count("DispatchFunction", DELAY) > before
    assert denied_to(stack, "DispatchFunction") == []
