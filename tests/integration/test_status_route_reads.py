"""Issue #18 item 4: the status route advances a message with no read first when the deployment's
credentials verified the callback, on a condition of the write (``advance_status(sent_with_defaults=)``)
that it was sent with them. Here the condition itself, on the local stack's DynamoDB (moto): it lets
a message sent with the deployment's account (or by another carrier) move, and refuses one that
carrier sent with a portal's own sender or credentials. The use case around it:
tests/unit/test_status_route_reads.py."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest

from b24sms.adapters import store
from b24sms.domain import bitrix_statuses
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import Message
from local.stack import LocalStack

DELIVERED = bitrix_statuses.rank("delivered")


def _message(member_id: str, carrier: dict[str, str]) -> str:
    message_id = secrets.token_hex(8)
    message = Message(member_id, message_id, to="+15550000000", code="b24sms", dispatch_state=DispatchState.SENT)
    store.messages.create_message(replace(message, **carrier))  # type: ignore[arg-type]
    return message_id


@pytest.mark.parametrize(
    ("carrier", "moves"),
    [
        ({"carrier": "sandbox"}, True),
        ({}, True),  # not sent yet
        ({"carrier": "twilio", "carrier_credentials": "b24sms/local/x-twilio"}, True),  # another carrier's account
        ({"carrier": "sandbox", "carrier_credentials": "b24sms/local/x-sandbox"}, False),
        ({"carrier": "sandbox", "carrier_sender": "MyShop"}, False),
    ],
)
def test_the_defaults_condition(stack: LocalStack, carrier: dict[str, str], moves: bool) -> None:
    member_id = f"reads-{secrets.token_hex(4)}"
    message_id = _message(member_id, carrier)
    moved = store.messages.advance_status(
        member_id, message_id, "delivered", DELIVERED, source="test", sent_with_defaults="sandbox"
    )
    assert (moved is not None) is moves
    assert (store.messages.get_message(member_id, message_id).status == "delivered") is moves  # type: ignore[union-attr]
