"""Sending through AWS End User Messaging SMS's local fake, end to end: handler -> dispatch -> boto3
SendTextMessage (with our key in Context) -> delivery events through the SNS topic -> SmsEvents function
-> status push to the portal emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from b24sms.adapters import config, store
from local.fakes.aws_sms import AwsSmsFake, Sent
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status


@pytest.fixture(scope="module")
def fake() -> Iterator[AwsSmsFake]:
    aws = AwsSmsFake().start()
    yield aws
    aws.stop()


@pytest.fixture
def aws_sms(fake: AwsSmsFake, stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsSmsFake]:
    monkeypatch.setenv("CARRIER", "aws")
    monkeypatch.setenv("AWS_SMS_ORIGINATION_IDENTITY", "+15005550006")
    monkeypatch.setenv("AWS_SMS_ENDPOINT", fake.base_url)
    config.reset_settings()
    fake.publish = lambda event: stack.publish("SmsEventsTopic", event)
    fake.failures.clear()
    yield fake
    monkeypatch.undo()
    config.reset_settings()


def sent_to(fake: AwsSmsFake, number: str) -> list[Sent]:
    return [s for s in fake.sent if s.request["DestinationPhoneNumber"] == number]


def test_delivered_through_aws(portal: EmulatedPortal, emulator: PortalEmulator, aws_sms: AwsSmsFake, stack: LocalStack):
    message_id, _ = emulator.send_sms(portal, "+1 555 013 0001", "Hello from AWS")
    assert final_status(portal, message_id) == "delivered"
    (sent,) = sent_to(aws_sms, "+15550130001")
    assert sent.request["Context"] == {"b24_key": f"{portal.member_id}.{message_id}"}
    assert sent.request["OriginationIdentity"] == "+15005550006" and sent.request["MessageBody"] == "Hello from AWS"
    assert sent.request["ConfigurationSetName"] == stack.environment["AWS_SMS_CONFIGURATION_SET"]
    stored = store.messages.get_message(portal.member_id, message_id)
    assert (
        stored
        and stored.carrier == "aws"
        and stored.carrier_message_id == sent.message_id
        and stored.carrier_status == "DELIVERED"
    )
    assert portal.timeline(message_id) == ["sent", "delivered"]


def test_unreachable_is_undelivered_with_the_reason(portal: EmulatedPortal, emulator: PortalEmulator, aws_sms: AwsSmsFake):
    message_id, _ = emulator.send_sms(portal, "+15550130013", "unreachable")
    assert final_status(portal, message_id) == "undelivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == "AWS_UNREACHABLE" and stored.carrier_status == "UNREACHABLE"


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("+15550130099", "AWS_ValidationException_INVALID_ARGUMENTS"),
        ("+15550130610", "AWS_ConflictException_DESTINATION_PHONE_NUMBER_OPTED_OUT"),
    ],
)
def test_refused_at_send_is_failed_with_the_reason(
    portal: EmulatedPortal, emulator: PortalEmulator, aws_sms: AwsSmsFake, number, code
):
    message_id, _ = emulator.send_sms(portal, number, "refused")
    assert final_status(portal, message_id) == "failed"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.error_code == code and stored.attempts == 1


def test_throttling_and_internal_errors_succeed_on_retry(portal: EmulatedPortal, emulator: PortalEmulator, aws_sms: AwsSmsFake):
    aws_sms.fail_next(400, "ThrottlingException", "Rate exceeded")
    aws_sms.fail_next(500, "InternalServerException", "Internal failure")
    message_id, _ = emulator.send_sms(portal, "+15550130002", "retry")
    assert final_status(portal, message_id, timeout=30) == "delivered"
    assert len(sent_to(aws_sms, "+15550130002")) == 1
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and stored.attempts == 2  # the throttling did not count


def test_late_duplicate_and_foreign_events_change_nothing(
    portal: EmulatedPortal, emulator: PortalEmulator, aws_sms: AwsSmsFake, stack: LocalStack
):
    message_id, _ = emulator.send_sms(portal, "+15550130003", "late")
    assert final_status(portal, message_id) == "delivered"
    (sent,) = sent_to(aws_sms, "+15550130003")
    for status, final in (("SUCCESSFUL", False), ("DELIVERED", True), ("UNREACHABLE", True), ("UNKNOWN", True)):
        stack.publish("SmsEventsTopic", aws_sms.event(sent.message_id, sent.request, status, final))
    stack.publish("SmsEventsTopic", "not json")  # a stray message on the topic is dropped, not retried forever
    stranger = dict(sent.request, Context={})
    assert stack.publish("SmsEventsTopic", aws_sms.event("f" * 32, stranger, "DELIVERED", True)) == [{"result": ["unknown"]}]
    assert portal.timeline(message_id) == ["sent", "delivered"]


def test_the_http_status_route_refuses_anything_claiming_to_be_aws(stack: LocalStack, aws_sms: AwsSmsFake):
    response = requests.post(f"{stack.base_url}/carriers/aws/status", json={"messageStatus": "DELIVERED"}, timeout=10)
    assert response.status_code == 403


def test_an_inbound_sms_through_sns_reaches_the_open_line(
    portal: EmulatedPortal, emulator: PortalEmulator, aws_sms: AwsSmsFake, stack: LocalStack
):
    page = emulator.open_connector_settings(portal, "b24sms_sms", "1")
    assert page.status_code == 200
    message_id, _ = emulator.send_sms(portal, "+15550130004", "Your table is booked")
    assert final_status(portal, message_id) == "delivered"
    aws_sms.publish = None  # the fake only builds the event; the test hands it to the topic and reads the result
    event = aws_sms.inbound("+15550130004", "+15005550006", "Thanks, see you at 8")
    assert stack.publish("SmsEventsTopic", event) == [{"result": ["posted"]}]
    chat = emulator.chat_for(portal, "b24sms_sms", "1", "15550130004")
    assert chat is not None and chat.texts() == ["Thanks, see you at 8"]
