"""A carrier's delivery report may carry a text naming the recipient (AWS's messageStatusDescription,
Twilio's ErrorMessage): it is stored only masked, like the texts of refused sends."""

from __future__ import annotations

import uuid

from b24sms import status_updates, storage
from b24sms.carriers import StatusReport
from b24sms.models import Message
from b24sms.privacy import mask_phone
from local.stack import LocalStack


def test_a_reports_error_text_is_stored_with_the_number_masked(stack: LocalStack):
    member_id, message_id = f"texts-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    assert storage.create_message(Message(member_id, message_id, to="+16178679194", body="x", created_at=storage.now()))
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
        stored = storage.get_message(member_id, message_id)
        assert stored and stored.status == "undelivered"
        assert stored.error_message == f"Destination {mask_phone('+16178679194')} is not a valid number"
    finally:
        storage.delete_portal_messages(member_id)
