"""Writes events/: one realistic event per function, for `make invoke` and `sam local invoke -e`.

    python -m local.events          # rewrite events/*.json
    python -m local.events --check  # exit 1 if events/ differs from what the code would write

Bodies are form-encoded with PHP-style keys, as the portal sends them; the sandbox callback is signed
with the local default secret; everything names the demo portal of local/fixtures.py.
"""

from __future__ import annotations

import json
import sys
from typing import Any
from urllib.parse import urlencode

from b24sms.adapters.carriers.sandbox import sign
from b24sms.adapters.carriers.twilio import signature as twilio_signature
from b24sms.adapters.carriers.vonage import sign as vonage_sign
from b24sms.domain.formdata import encode_form
from local import fixtures
from local.stack import LOCAL_DEFAULTS, http_event, sqs_event
from local.template import ROOT, Template

EVENTS = ROOT / "events"
TS = 1763798400  # fixed, so the files are reproducible
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Bitrix24 Webhook Engine"}
DOMAIN = "example.bitrix24.com"
CLIENT_ENDPOINT = f"https://{DOMAIN}/rest/"
# The function of template.yaml each file is written for (`make invoke EVENT=...` alone uses it).
FUNCTION_OF = {
    "install_page.json": "InstallFunction",
    "install_event.json": "InstallFunction",
    "app_uninstall.json": "EventsFunction",
    "handler_send.json": "HandlerFunction",
    "handler_send_robot.json": "HandlerFunction",
    "status_sandbox.json": "StatusFunction",
    "status_twilio.json": "StatusFunction",
    "status_vonage.json": "StatusFunction",
    "status_vonage_get.json": "StatusFunction",
    "inbound_twilio.json": "InboundFunction",
    "inbound_vonage_part.json": "InboundFunction",
    "connector_placement.json": "ConnectorFunction",
    "app_open.json": "AppFunction",
    "app_call.json": "AppFunction",
    "app_get.json": "AppFunction",
    "imconnector_message_add.json": "EventsFunction",
    "sns_aws_delivery.json": "SmsEventsFunction",
    "sqs_outbound.json": "DispatchFunction",
    "sqs_status.json": "PushFunction",
    "sync_senders.json": "SyncSendersFunction",
    "sqs_sync_portal.json": "SyncPortalFunction",
    "scheduled_recover.json": "RecoverFunction",
}


def _auth(**extra: str) -> dict[str, Any]:
    block: dict[str, Any] = {
        "access_token": fixtures.DEMO_ACCESS_TOKEN,
        "expires": TS + 3600,
        "expires_in": 3600,
        "scope": "messageservice",
        "domain": DOMAIN,
        "server_endpoint": "https://oauth.bitrix.info/rest/",
        "status": "L",
        "client_endpoint": CLIENT_ENDPOINT,
        "member_id": fixtures.DEMO_MEMBER_ID,
        "user_id": "1",
        "application_token": fixtures.DEMO_APPLICATION_TOKEN,
    }
    block.update(extra)
    return block


def _demo_session() -> str:
    """The page's session token for the demo portal's admin, signed with the local default key. The
    files are fixed, so it is made to expire in 2100: valid only with that key, i.e. only locally."""
    from b24sms.usecases import page_session

    key = LOCAL_DEFAULTS["APP_SESSION_SECRET"].encode()
    return page_session.issue(fixtures.DEMO_MEMBER_ID, "1", True, now=4102444800 - 3600, key=key)


def _http(
    template: Template, path: str, body: str, query: str = "", headers: dict[str, str] | None = None, method: str = "POST"
) -> dict[str, Any]:
    for route in template.routes():
        match = route.pattern.match(path)
        if match and route.method == method:
            event = http_event(
                route,
                method,
                path,
                query,
                {k.lower(): v for k, v in (headers or FORM).items()},
                body.encode(),
                match.groupdict(),
                "203.0.113.10",
                HOST,
                443,
                now=TS,
                request_id="demo",
            )
            event["requestContext"]["domainName"] = HOST
            return event
    raise KeyError(path)


def _twilio_status(t: Template) -> dict[str, Any]:
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
    return _http(t, "/carriers/twilio/status", urlencode(params), query=query, headers=headers)


def _vonage_status(t: Template) -> dict[str, Any]:
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
    return _http(t, "/carriers/vonage/status", json.dumps(params), headers=headers)


def _vonage_inbound_part(t: Template) -> dict[str, Any]:
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
    return _http(t, "/carriers/vonage/inbound", "", query=urlencode(params), headers={"User-Agent": "Vonage"}, method="GET")


def _twilio_inbound(t: Template) -> dict[str, Any]:
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
    return _http(t, "/carriers/twilio/inbound", urlencode(params), headers=headers)


def _vonage_status_get(t: Template) -> dict[str, Any]:
    """The same kind of receipt as status_vonage.json, for an account set to send receipts by GET."""
    event = _vonage_status(t)
    query = urlencode(json.loads(event["body"]))
    return _http(t, "/carriers/vonage/status", "", query=query, headers={"User-Agent": "Vonage"}, method="GET")


def _aws_delivery() -> dict[str, Any]:
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


def build() -> dict[str, dict[str, Any]]:
    t = Template()
    sms = {
        "message_id": fixtures.DEMO_MESSAGE_ID,
        "message_to": "+15550001234",
        "message_body": "Your order #1024 is ready for pickup",
        "code": "b24sms",
        "type": "SMS",
        "ts": TS,
        "properties": {"phone_number": "+15550001234", "message_text": "Your order #1024 is ready for pickup"},
        "module_id": "crm",
        "bindings": [{"OWNER_TYPE_ID": "3", "OWNER_ID": "17"}, {"OWNER_TYPE_ID": "2", "OWNER_ID": "42"}],
    }
    handler_query = urlencode({"portal": fixtures.DEMO_MEMBER_ID, "key": fixtures.DEMO_HANDLER_SECRET})
    callback = encode_form(
        {
            "message_id": fixtures.DEMO_CARRIER_MESSAGE_ID,
            "ref": f"{fixtures.DEMO_MEMBER_ID}.{fixtures.DEMO_MESSAGE_ID}",
            "status": "delivered",
            "ts": TS,
        }
    )
    queue_message = json.dumps(
        {"member_id": fixtures.DEMO_MEMBER_ID, "message_id": fixtures.DEMO_MESSAGE_ID}, separators=(",", ":")
    )

    def sqs(queue: str, body: str = queue_message) -> dict[str, Any]:
        return sqs_event(
            [
                {
                    "MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                    "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                    "Body": body,
                    "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(TS * 1000)},
                    "MD5OfBody": "",
                }
            ],
            f"arn:aws:sqs:us-east-1:123456789012:{queue}",
        )

    return {
        "install_page.json": _http(
            t,
            "/bitrix/install",
            encode_form(
                {
                    "AUTH_ID": fixtures.DEMO_ACCESS_TOKEN,
                    "AUTH_EXPIRES": 3600,
                    "REFRESH_ID": fixtures.DEMO_REFRESH_TOKEN,
                    "SERVER_ENDPOINT": "https://oauth.bitrix.info/rest/",
                    "member_id": fixtures.DEMO_MEMBER_ID,
                    "status": "L",
                    "PLACEMENT": "DEFAULT",
                    "PLACEMENT_OPTIONS": "{}",
                    "APPLICATION_SCOPE": "messageservice",
                    "APPLICATION_TOKEN": fixtures.DEMO_APPLICATION_TOKEN,
                }
            ),
            query=urlencode({"DOMAIN": DOMAIN, "PROTOCOL": "1", "LANG": "en", "APP_SID": "a1b2c3"}),
        ),
        "install_event.json": _http(
            t,
            "/bitrix/install",
            encode_form(
                {
                    "event": "ONAPPINSTALL",
                    "event_handler_id": "1",
                    "data": {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y", "LANGUAGE_ID": "en"},
                    "ts": TS,
                    "auth": _auth(refresh_token=fixtures.DEMO_REFRESH_TOKEN),
                }
            ),
        ),
        "app_uninstall.json": _http(
            t,
            "/bitrix/events",
            encode_form(
                {
                    "event": "ONAPPUNINSTALL",
                    "event_handler_id": "2",
                    "data": {"CLEAN": "0", "LANGUAGE_ID": "en"},
                    "ts": TS,
                    "auth": {
                        k: v
                        for k, v in _auth().items()
                        if k in ("domain", "server_endpoint", "client_endpoint", "member_id", "application_token")
                    },
                }
            ),
        ),
        "handler_send.json": _http(t, "/bitrix/handler", encode_form({**sms, "auth": _auth()}), query=handler_query),
        "handler_send_robot.json": _http(t, "/bitrix/handler", encode_form(sms), query=handler_query),
        "status_sandbox.json": _http(
            t,
            "/carriers/sandbox/status",
            callback,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Sandbox-Signature": sign(LOCAL_DEFAULTS["SANDBOX_SECRET"], callback),
            },
        ),
        "status_twilio.json": _twilio_status(t),
        "status_vonage.json": _vonage_status(t),
        "status_vonage_get.json": _vonage_status_get(t),
        "inbound_twilio.json": _twilio_inbound(t),
        "inbound_vonage_part.json": _vonage_inbound_part(t),
        "connector_placement.json": _http(
            t,
            "/bitrix/connector",
            encode_form(
                {
                    "AUTH_ID": fixtures.DEMO_ACCESS_TOKEN,
                    "AUTH_EXPIRES": "3600",
                    "REFRESH_ID": fixtures.DEMO_REFRESH_TOKEN,
                    "member_id": fixtures.DEMO_MEMBER_ID,
                    "status": "L",
                    "PLACEMENT": "SETTING_CONNECTOR",
                    "PLACEMENT_OPTIONS": json.dumps({"LINE": 1, "ACTIVE_STATUS": 1, "CONNECTOR": "b24sms_sms"}),
                }
            ),
            query=urlencode({"DOMAIN": DOMAIN, "PROTOCOL": "1", "LANG": "en", "APP_SID": "demo"}),
        ),
        "app_open.json": _http(
            t,
            "/bitrix/app",
            encode_form(
                {
                    "AUTH_ID": fixtures.DEMO_ACCESS_TOKEN,
                    "AUTH_EXPIRES": "3600",
                    "REFRESH_ID": fixtures.DEMO_REFRESH_TOKEN,
                    "member_id": fixtures.DEMO_MEMBER_ID,
                    "status": "L",
                    "PLACEMENT": "DEFAULT",
                    "PLACEMENT_OPTIONS": "{}",
                }
            ),
            query=urlencode({"DOMAIN": DOMAIN, "PROTOCOL": "1", "LANG": "en", "APP_SID": "demo"}),
        ),
        "app_get.json": _http(t, "/bitrix/app", "", query="LANG=ru", headers={}, method="GET"),
        "app_call.json": _http(
            t,
            "/bitrix/app/api/optout-add",
            encode_form({"phone": "+15550001299"}),
            headers={**FORM, "X-B24sms-Session": _demo_session()},
        ),
        "imconnector_message_add.json": _http(
            t,
            "/bitrix/events",
            encode_form(
                {
                    "event": "ONIMCONNECTORMESSAGEADD",
                    "event_handler_id": "3",
                    "data": {
                        "CONNECTOR": "b24sms_sms",
                        "LINE": "1",
                        "MESSAGES": [
                            {
                                "im": {"chat_id": "1042", "message_id": "58231"},
                                "message": {"user_id": "1", "text": "Yes, after 2 pm"},
                                "chat": {"id": "15550001234"},
                            }
                        ],
                    },
                    "ts": TS,
                    "auth": _auth(scope="messageservice,imconnector,imopenlines"),
                }
            ),
        ),
        "sns_aws_delivery.json": _aws_delivery(),
        "sqs_outbound.json": sqs("b24sms-dev-OutboundQueue"),
        "sqs_status.json": sqs("b24sms-dev-StatusQueue"),
        "sync_senders.json": {},
        "sqs_sync_portal.json": sqs(
            "b24sms-dev-SyncQueue", json.dumps({"member_id": fixtures.DEMO_MEMBER_ID}, separators=(",", ":"))
        ),
        "scheduled_recover.json": {
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2025-11-22T12:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/b24sms-dev-RecoverFunctionEveryFiveMinutes"],
            "detail": {},
        },
    }


def main() -> int:
    check = "--check" in sys.argv[1:]
    EVENTS.mkdir(exist_ok=True)
    stale = []
    for name, event in build().items():
        text = json.dumps(event, indent=2, ensure_ascii=False) + "\n"
        path = EVENTS / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("events/ is stale, run `python -m local.events`: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
