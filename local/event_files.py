"""Writes events/: one realistic event per function, for `make invoke` and `sam local invoke -e`.

    python -m local.event_files          # rewrite events/*.json
    python -m local.event_files --check  # exit 1 if events/ differs from what the code would write

Bodies are form-encoded with PHP-style keys, as the portal sends them; the sandbox callback is signed
with the local default secret; everything names the demo portal of local/fixtures.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from b24sms.adapters.carriers.sandbox import sign
from b24sms.domain.formdata import encode_form
from local import event_files_carriers, fixtures
from local.event_files_common import CLIENT_ENDPOINT, DOMAIN, FORM, TS, http
from local.lambda_events import sqs_event
from local.settings import LOCAL_DEFAULTS
from local.template import ROOT, Template

EVENTS = ROOT / "events"


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


SMS: dict[str, Any] = {
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
HANDLER_QUERY = urlencode({"portal": fixtures.DEMO_MEMBER_ID, "key": fixtures.DEMO_HANDLER_SECRET})
CALLBACK = encode_form(
    {
        "message_id": fixtures.DEMO_CARRIER_MESSAGE_ID,
        "ref": f"{fixtures.DEMO_MEMBER_ID}.{fixtures.DEMO_MESSAGE_ID}",
        "status": "delivered",
        "ts": TS,
    }
)
QUEUE_MESSAGE = json.dumps({"member_id": fixtures.DEMO_MEMBER_ID, "message_id": fixtures.DEMO_MESSAGE_ID}, separators=(",", ":"))


def _sqs(queue: str, body: str = QUEUE_MESSAGE) -> dict[str, Any]:
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


@dataclass(frozen=True)
class EventFile:
    """A file of events/: its name, the function of template.yaml it is written for (`make invoke
    EVENT=...` alone uses it), and how it is made from the template."""

    name: str
    function: str
    make: Callable[[Template], dict[str, Any]]


FILES = [
    EventFile(
        "install_page.json",
        "InstallFunction",
        lambda t: http(
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
    ),
    EventFile(
        "install_event.json",
        "InstallFunction",
        lambda t: http(
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
    ),
    EventFile(
        "app_uninstall.json",
        "EventsFunction",
        lambda t: http(
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
    ),
    EventFile(
        "handler_send.json",
        "HandlerFunction",
        lambda t: http(t, "/bitrix/handler", encode_form({**SMS, "auth": _auth()}), query=HANDLER_QUERY),
    ),
    EventFile(
        "handler_send_robot.json", "HandlerFunction", lambda t: http(t, "/bitrix/handler", encode_form(SMS), query=HANDLER_QUERY)
    ),
    EventFile(
        "status_sandbox.json",
        "StatusFunction",
        lambda t: http(
            t,
            "/carriers/sandbox/status",
            CALLBACK,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Sandbox-Signature": sign(LOCAL_DEFAULTS["SANDBOX_SECRET"], CALLBACK),
            },
        ),
    ),
    EventFile("status_twilio.json", "StatusFunction", event_files_carriers.twilio_status),
    EventFile("status_vonage.json", "StatusFunction", event_files_carriers.vonage_status),
    EventFile("status_vonage_get.json", "StatusFunction", event_files_carriers.vonage_status_get),
    EventFile("inbound_twilio.json", "InboundFunction", event_files_carriers.twilio_inbound),
    EventFile("inbound_vonage_part.json", "InboundFunction", event_files_carriers.vonage_inbound_part),
    EventFile(
        "connector_placement.json",
        "ConnectorFunction",
        lambda t: http(
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
    ),
    EventFile(
        "app_open.json",
        "AppFunction",
        lambda t: http(
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
    ),
    EventFile("app_get.json", "AppFunction", lambda t: http(t, "/bitrix/app", "", query="LANG=ru", headers={}, method="GET")),
    EventFile(
        "app_call.json",
        "AppFunction",
        lambda t: http(
            t,
            "/bitrix/app/api/optout-add",
            encode_form({"phone": "+15550001299"}),
            headers={**FORM, "X-B24sms-Session": _demo_session()},
        ),
    ),
    EventFile(
        "imconnector_message_add.json",
        "EventsFunction",
        lambda t: http(
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
    ),
    EventFile("sns_aws_delivery.json", "SmsEventsFunction", lambda t: event_files_carriers.aws_delivery()),
    EventFile("sqs_outbound.json", "DispatchFunction", lambda t: _sqs("b24sms-dev-OutboundQueue")),
    EventFile("sqs_status.json", "PushFunction", lambda t: _sqs("b24sms-dev-StatusQueue")),
    EventFile("sync_senders.json", "SyncSendersFunction", lambda t: {}),
    EventFile(
        "sqs_sync_portal.json",
        "SyncPortalFunction",
        lambda t: _sqs("b24sms-dev-SyncQueue", json.dumps({"member_id": fixtures.DEMO_MEMBER_ID}, separators=(",", ":"))),
    ),
    EventFile(
        "scheduled_recover.json",
        "RecoverFunction",
        lambda t: {
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
    ),
]
FUNCTION_OF = {file.name: file.function for file in FILES}


def build() -> dict[str, dict[str, Any]]:
    t = Template()
    return {file.name: file.make(t) for file in FILES}


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
        print("events/ is stale, run `python -m local.event_files`: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
