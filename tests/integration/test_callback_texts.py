"""A carrier's delivery report may carry a text naming the recipient (AWS's messageStatusDescription,
Twilio's ErrorMessage): it is stored only masked, like the texts of refused sends."""

from __future__ import annotations

import uuid

from b24sms.adapters import store
from b24sms.adapters.carriers import StatusReport
from b24sms.domain.models import Message
from b24sms.domain.privacy import mask_phone
from b24sms.usecases import status_updates
from local.stack import LocalStack


def test_a_reports_error_text_is_stored_with_the_number_masked(stack: LocalStack):
    member_id, message_id = f"texts-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    assert store.messages.create_message(Message(member_id, message_id, to="+16178679194", body="x", created_at=store.now()))
    report = StatusReport(
        carrier_message_id="m-1",
        carrier_status="INVALID",
        bitrix_status="undelivered",
        message_key=f"{member_id}.{message_id}",
        error_code="AWS_INVALID",
        error_message="Destination +16178679194 is not a valid number",
    )
    try:
        assert status_updates.apply_report("aws", report) == "advanced"
        stored = store.messages.get_message(member_id, message_id)
        assert stored and stored.status == "undelivered"
        assert stored.error_message == f"Destination {mask_phone('+16178679194')} is not a valid number"
    finally:
        store.messages.delete_portal_messages(member_id)
