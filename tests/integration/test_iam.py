"""The local stack runs each function with its deployed role's permissions (local/iam/): what a function
does on a retry path uses only what its role grants, and a portal down for a (scaled) day loses no status."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from b24sms.adapters import config, queues, store
from b24sms.adapters.bitrix.client import BitrixClient
from b24sms.adapters.carriers import CarrierThrottled, OutboundSms, SendResult
from b24sms.adapters.carriers.sandbox import SandboxCarrier
from b24sms.domain import bitrix_statuses
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import Message
from b24sms.usecases import push
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from local.template import REGION
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
    store.messages.advance_status(portal.member_id, message_id, "delivered", bitrix_statuses.rank("delivered"), source="test")
    portal.messages[message_id] = ["sent"]
    return message_id


def denied_to(stack: LocalStack, function: str) -> list[object]:
    return [c for c in stack.iam.denied() if c.function == function]


def test_a_call_outside_the_role_is_refused_before_it_reaches_moto(portal: EmulatedPortal, stack: LocalStack):
    phone = "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))
    with stack.iam.acting_as("HandlerFunction"), pytest.raises(ClientError) as refused:
        store.chats.opt_out(portal.member_id, phone, "test")  # the handler may not write ChatsTable
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert not store.chats.is_opted_out(portal.member_id, phone)  # nothing was written
    with stack.iam.acting_as("InboundFunction"):  # STOP: the inbound route may
        store.chats.opt_out(portal.member_id, phone, "test")
    assert store.chats.is_opted_out(portal.member_id, phone)


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
    portal.fail_next(1, 503, "QUERY_LIMIT_EXCEEDED", "Too many requests")  # the push fails fast: one deferral
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


# -- a day of outage, scaled: an hour of the deployment is a second here ------------------------------------
SCALE = 3600


@pytest.fixture
def scaled_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The deployed arithmetic (5 s doubling, 1 h cap, 50 receives, the REST client's backoff and the
    portal's pace), every duration divided by SCALE."""
    monkeypatch.setenv("PUSH_RETRY_BASE", str(5 / SCALE))
    monkeypatch.setenv("PUSH_RETRY_CAP", str(3600 // SCALE))
    monkeypatch.setenv("PORTAL_RATE", str(2 * SCALE))
    defaults = BitrixClient.__init__.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "backoff", 0.5 / SCALE)
    config.reset_settings()
    yield
    monkeypatch.undo()
    config.reset_settings()


def dlq_bodies(stack: LocalStack) -> list[str]:
    sqs = boto3.client("sqs", endpoint_url=stack.aws_endpoint, region_name=REGION)
    found = sqs.receive_message(QueueUrl=stack.queue_url("StatusDLQ"), MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [m["Body"] for m in found.get("Messages", [])]


def most_tries_within(seconds: float) -> int:
    """How many receives ``push.retry_delay`` allows in ``seconds`` if pushing took no time at all."""
    tries, elapsed = 0, 0.0
    while elapsed <= seconds and tries < 1000:
        tries += 1
        elapsed += push.retry_delay(tries)
    return tries


@pytest.mark.usefixtures("scaled_time")
def test_a_portal_down_for_a_day_gets_every_status_afterwards(portal: EmulatedPortal, stack: LocalStack):
    outage = 24 * 3600 / SCALE
    bound = most_tries_within(outage)
    assert bound == 10 + 24 + 1 < 50  # ten quick tries (5115 s, 1.4 s here), then one an hour: no DLQ
    message_id = delivered_status(portal)
    deferred = stack.iam.count("PushFunction", DELAY)
    portal.down = True
    try:
        queues.enqueue_push(portal.member_id, message_id)
        time.sleep(outage)
        assert portal.timeline(message_id) == ["sent"]  # nothing landed while it was down
    finally:
        portal.down = False
    deferrals = stack.iam.count("PushFunction", DELAY) - deferred
    # Past the doubling into the hourly tries, and no more tries than the back-off allows (a status
    # coming back sooner would burn its 50 receives into the DLQ within hours).
    assert 10 < deferrals <= bound
    assert final_status(portal, message_id, timeout=30) == "delivered"
    assert portal.timeline(message_id) == ["sent", "delivered"]
    assert not any(json.loads(body).get("message_id") == message_id for body in dlq_bodies(stack))
    assert denied_to(stack, "PushFunction") == []
