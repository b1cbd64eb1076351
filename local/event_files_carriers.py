"""The files of events/ that carriers send: delivery callbacks and inbound SMS, signed as each carrier
signs them, and AWS End User Messaging's delivery event through SNS (local/event_files.py lists them)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from b24sms.adapters.carriers.twilio import signature as twilio_signature
from b24sms.adapters.carriers.vonage import sign as vonage_sign
from local import fixtures
from local.event_files_common import HOST, TS, http
from local.template import Template


def twilio_status(t: Template) -> dict[str, Any]:
    """A Twilio delivery callback, signed over the public URL https://HOST/… as Twilio signs it."""
    query = urlencode({"ref": f"{fixtures.DEMO_MEMBER_ID}.{fixtures.DEMO_MESSAGE_ID}"})
    params = {
        "SmsSid": fixtures.DEMO_TWILIO_MESSAGE_SID,
        "SmsStatus": "delivered",
        "MessageStatus": "delivered",
        "To": "+15550001234",
        "MessageSid": fixtures.DEMO_TWILIO_MESSAGE_SID,
        "AccountSid": fixtures.DEMO_TWILIO_ACCOUNT_SID,
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
        "RawDlrDoneDate": "2511221200",
    }
    url = f"https://{HOST}/carriers/twilio/status?{query}"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "X-Twilio-Signature": twilio_signature(fixtures.DEMO_TWILIO_AUTH_TOKEN, url, params),
    }
    return http(t, "/carriers/twilio/status", urlencode(params), query=query, headers=headers)


def vonage_status(t: Template) -> dict[str, Any]:
    """A Vonage delivery receipt for one segment, POSTed as JSON and signed (HMAC-SHA256) as Vonage
    signs it when signed webhooks are on."""
    params = {
        "msisdn": "15550001234",
        "to": "AcmeInc",
        "network-code": "310260",
        "messageId": fixtures.DEMO_VONAGE_PART_ID,
        "price": "0.00790000",
        "status": "delivered",
        "scts": "2511221200",
        "err-code": "0",
        "api-key": fixtures.DEMO_VONAGE_API_KEY,
        "client-ref": f"{fixtures.DEMO_MEMBER_ID}.{fixtures.DEMO_MESSAGE_ID}",
        "message-timestamp": "2025-11-22 12:00:00",
        "timestamp": str(TS),
    }
    params["sig"] = vonage_sign(params, fixtures.DEMO_VONAGE_SIGNATURE_SECRET, "sha256")
    headers = {"Content-Type": "application/json", "User-Agent": "Vonage-Webhooks/1.0"}
    return http(t, "/carriers/vonage/status", json.dumps(params), headers=headers)


def vonage_inbound_part(t: Template) -> dict[str, Any]:
    """Part 2 of 3 of a long inbound SMS, as Vonage sends it with GET and a signature."""
    params = {
        "msisdn": "15550001234",
        "to": "15005550006",
        "messageId": "0A0000000123ABCD",
        "text": "change the delivery address ",
        "type": "text",
        "keyword": "CHANGE",
        "api-key": fixtures.DEMO_VONAGE_API_KEY,
        "message-timestamp": "2025-11-22 12:00:00",
        "concat": "true",
        "concat-ref": "A7",
        "concat-total": "3",
        "concat-part": "2",
        "timestamp": str(TS),
    }
    params["sig"] = vonage_sign(params, fixtures.DEMO_VONAGE_SIGNATURE_SECRET, "sha256")
    return http(t, "/carriers/vonage/inbound", "", query=urlencode(params), headers={"User-Agent": "Vonage"}, method="GET")


def twilio_inbound(t: Template) -> dict[str, Any]:
    """A customer's SMS to our Twilio number, signed over the public URL as Twilio signs it."""
    params = {
        "ToCountry": "US",
        "SmsMessageSid": "SM" + "6b" * 16,
        "NumMedia": "0",
        "SmsSid": "SM" + "6b" * 16,
        "SmsStatus": "received",
        "Body": "Can I pick it up today?",
        "To": "+15005550006",
        "NumSegments": "1",
        "MessageSid": "SM" + "6b" * 16,
        "AccountSid": fixtures.DEMO_TWILIO_ACCOUNT_SID,
        "From": "+15550001234",
        "ApiVersion": "2010-04-01",
    }
    url = f"https://{HOST}/carriers/twilio/inbound"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "X-Twilio-Signature": twilio_signature(fixtures.DEMO_TWILIO_AUTH_TOKEN, url, params),
    }
    return http(t, "/carriers/twilio/inbound", urlencode(params), headers=headers)


def vonage_status_get(t: Template) -> dict[str, Any]:
    """The same kind of receipt as status_vonage.json, for an account set to send receipts by GET."""
    event = vonage_status(t)
    query = urlencode(json.loads(event["body"]))
    return http(t, "/carriers/vonage/status", "", query=query, headers={"User-Agent": "Vonage"}, method="GET")


def aws_delivery() -> dict[str, Any]:
    """An AWS End User Messaging SMS delivery event, as the configuration set's SNS topic hands it to
    the SmsEvents function."""
    event = {
        "eventType": "TEXT_DELIVERED",
        "eventVersion": "1.0",
        "eventTimestamp": TS * 1000,
        "isFinal": True,
        "originationPhoneNumber": "+15005550006",
        "destinationPhoneNumber": "+15550001234",
        "isoCountryCode": "US",
        "mcc": "310",
        "mnc": "260",
        "carrierName": "T-Mobile USA, Inc.",
        "messageId": fixtures.DEMO_AWS_MESSAGE_ID,
        "messageRequestTimestamp": TS * 1000 - 2500,
        "messageEncoding": "GSM",
        "messageType": "TRANSACTIONAL",
        "messageStatus": "DELIVERED",
        "messageStatusDescription": "Message has been accepted by phone",
        "context": {"b24_key": f"{fixtures.DEMO_MEMBER_ID}.{fixtures.DEMO_MESSAGE_ID}"},
        "totalMessageParts": 1,
        "totalMessagePrice": 0.00581,
        "totalCarrierFee": 0.00207,
    }
    topic = "arn:aws:sns:us-east-1:123456789012:b24sms-dev-SmsEventsTopic-1A2B3C4D5E6F"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:0f2c6a1e-5d7b-4c1a-9e8f-2b3c4d5e6f70",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "TopicArn": topic,
                    "Subject": None,
                    "Message": json.dumps(event),
                    "Timestamp": "2025-11-22T12:00:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }
