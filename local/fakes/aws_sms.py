"""A fake of AWS End User Messaging SMS (``pinpoint-sms-voice-v2``) on 127.0.0.1, speaking the API's
JSON 1.0 protocol, so boto3 itself (pointed here with ``endpoint_url``) talks to it: ``SendTextMessage``
answers ``{"MessageId"}`` or an AWS error (``__type``, ``Message``, ``Reason``), and each accepted
message produces the delivery events a configuration set's SNS destination would publish; ``publish``
hands them on (the local stack's ``publish`` invokes the subscribed function).

Outcome by recipient: ...0099 is refused (ValidationException), ...0610 has opted out
(ConflictException DESTINATION_PHONE_NUMBER_OPTED_OUT), ...0013 ends UNREACHABLE; others go
SUCCESSFUL (not final) then DELIVERED.

Connection faults (``faults.next("close")``, ``refuse_for(seconds)``: see ``local.fakes.faults``) play on
the next sends; ``received`` keeps every send request read, faulted or not, to count them per message.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.fakes.faults import Faults, ServedFake
from local.httpserver import Reply


@dataclass
class Sent:
    message_id: str
    request: dict[str, Any]


@dataclass
class AwsSmsFake(ServedFake):
    publish: Callable[[dict[str, Any]], Any] | None = None
    sent: list[Sent] = field(default_factory=list)
    failures: deque[tuple[int, str, str, str]] = field(default_factory=deque)  # http status, type, message, reason
    final_statuses: tuple[tuple[str, bool], ...] = (("SUCCESSFUL", False), ("DELIVERED", True))
    base_url: str = ""
    faults: Faults = field(default_factory=Faults)
    received: list[dict[str, Any]] = field(default_factory=list)  # every send request read, faulted or not

    def start(self) -> AwsSmsFake:
        def respond(method: str, path: str, headers: dict[str, str], body: bytes, _: str) -> Reply:
            status, payload = self.handle(headers, body.decode() or "{}")
            return (
                status,
                {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": secrets.token_hex(8)},
                json.dumps(payload).encode(),
            )

        self._serve(respond)
        return self

    def fail_next(self, http_status: int, error_type: str, message: str, reason: str = "") -> None:
        self.failures.append((http_status, error_type, message, reason))

    def handle(self, headers: dict[str, str], body: str) -> tuple[int, dict[str, Any]]:
        target = headers.get("x-amz-target", "")
        if not headers.get("authorization", "").startswith("AWS4-HMAC-SHA256"):
            return _error(403, "AccessDeniedException", "Missing Authentication Token")
        if target != "PinpointSMSVoiceV2.SendTextMessage":
            return _error(400, "UnknownOperationException", f"unknown operation {target}")
        request = json.loads(body)
        self.received.append(request)
        self.faults.play()  # a connection fault instead of an answer, when one is pending
        if self.failures:
            return _error(*self.failures.popleft())
        to = str(request.get("DestinationPhoneNumber", ""))
        if not to.startswith("+") or not request.get("OriginationIdentity"):
            return _error(400, "ValidationException", "1 validation error detected", "INVALID_PARAMETER")
        if to.endswith("0099"):
            return _error(400, "ValidationException", "The destination phone number cannot be reached", "INVALID_ARGUMENTS")
        if to.endswith("0610"):
            return _error(
                400, "ConflictException", "The destination phone number has opted out", "DESTINATION_PHONE_NUMBER_OPTED_OUT"
            )
        message_id = secrets.token_hex(16)
        self.sent.append(Sent(message_id, request))
        if self.publish:
            outcome = (("UNREACHABLE", True),) if to.endswith("0013") else self.final_statuses
            threading.Thread(target=self._events, args=(message_id, request, outcome), daemon=True).start()
        return 200, {"MessageId": message_id}

    def event(self, message_id: str, request: dict[str, Any], status: str, is_final: bool) -> dict[str, Any]:
        """A delivery event as the configuration set's SNS destination publishes it."""
        return {
            "eventType": f"TEXT_{status}",
            "eventVersion": "1.0",
            "eventTimestamp": int(time.time() * 1000),
            "isFinal": is_final,
            "originationPhoneNumber": request.get("OriginationIdentity", ""),
            "destinationPhoneNumber": request.get("DestinationPhoneNumber", ""),
            "isoCountryCode": "US",
            "messageId": message_id,
            "messageRequestTimestamp": int(time.time() * 1000),
            "messageEncoding": "GSM",
            "messageType": request.get("MessageType", "TRANSACTIONAL"),
            "messageStatus": status,
            "messageStatusDescription": "Message has been accepted by phone" if status == "DELIVERED" else status.title(),
            "context": request.get("Context") or {},
            "totalMessageParts": 1,
            "totalMessagePrice": 0.00581,
            "totalCarrierFee": 0.00207,
        }

    def inbound(self, origination: str, destination: str, body: str) -> dict[str, Any]:
        """A customer's SMS to our number, as two-way SMS publishes it to the number's SNS topic."""
        event = {
            "originationNumber": origination,
            "destinationNumber": destination,
            "messageKeyword": body.split()[0].upper() if body.split() else "",
            "messageBody": body,
            "inboundMessageId": secrets.token_hex(16),
            "previousPublishedMessageId": "",
        }
        if self.publish:
            self.publish(event)
        return event

    def _events(self, message_id: str, request: dict[str, Any], outcome: tuple[tuple[str, bool], ...]) -> None:
        time.sleep(0.05)
        for status, final in outcome:
            if self.publish:
                self.publish(self.event(message_id, request, status, final))


def _error(status: int, error_type: str, message: str, reason: str = "") -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"__type": error_type, "Message": message}
    if reason:
        body["Reason"] = reason
    return status, body
