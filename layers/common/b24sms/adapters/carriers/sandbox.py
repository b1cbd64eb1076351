"""The sandbox carrier: the local default. It sends nothing; it accepts the SMS and then reports
delivery by POSTing an HMAC-signed callback to our own status route, as a real carrier does.

Outcome by recipient: a number ending in 0099 is rejected at send (``failed``), a UK one (+44) is
refused as "no route" (``SANDBOX_NO_ROUTE``: a fallback carrier takes it), one ending in 0013
ends ``undelivered``, any other ends ``delivered``.

Inbound SMS are form bodies (``message_id``, ``from``, ``to``, ``text``) signed the same way; the sandbox
never sends one itself: :func:`inbound_form` builds one for tests and the demo to post.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

from aws_lambda_powertools import Logger

from b24sms.adapters.carriers.base import (
    CallbackRequest,
    CarrierSpec,
    InboundSms,
    OutboundSms,
    PermanentCarrierError,
    SendResult,
    SignatureError,
    StatusReport,
    same_signature,
)
from b24sms.adapters.config import get_settings, sandbox_send_delay
from b24sms.domain import prices
from b24sms.domain.formdata import decode_form, encode_form
from b24sms.domain.models import CarrierConfig

logger = Logger(child=True)

SIGNATURE_HEADER = "x-sandbox-signature"
STATUS_MAP: dict[str, str | None] = {
    "accepted": None,
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
}


def sign(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def inbound_form(secret: str, message_id: str, from_number: str, to_number: str, text: str) -> tuple[str, dict[str, str]]:
    """A signed inbound SMS, as (form body, HTTP headers) to POST to our inbound route."""
    body = encode_form({"message_id": message_id, "from": from_number, "to": to_number, "text": text})
    return body, {"Content-Type": "application/x-www-form-urlencoded", "X-Sandbox-Signature": sign(secret, body)}


# What the sandbox charges, in its callbacks as a carrier's report would (the page's cost shows locally).
PRICE = {"price": "0.0079", "price_unit": "USD"}


class SandboxCarrier:
    name = "sandbox"
    # What the sandbox "sent" in this process (our key, carrier id), newest last: the local stand-in
    # for a carrier's message log, so tests and the demo can count sends.
    outbox: ClassVar[deque[tuple[str, str]]] = deque(maxlen=100_000)
    # Each sent SMS's final status by carrier id, what ``query_status`` answers (in this process only);
    # ``drop_callbacks``: accept and remember, but post no callback (a lost callback, for the reconciler).
    outcomes: ClassVar[dict[str, str]] = {}
    drop_callbacks: ClassVar[bool] = False

    def __init__(self, secret: str, timeout: float = 5.0, delay: float = 0.0) -> None:
        self.secret = secret
        self.timeout = timeout
        self.delay = delay  # seconds a send takes (SANDBOX_SEND_DELAY_MS), to play a slow carrier

    def send(self, sms: OutboundSms) -> SendResult:
        digits = "".join(ch for ch in sms.to if ch.isdigit())
        if not digits:
            raise PermanentCarrierError("SANDBOX_INVALID_NUMBER", "the recipient has no digits")
        if digits.endswith("0099"):
            # Worded as carriers do, with the whole number (Twilio: "The 'To' number +1… is not a valid
            # phone number."): what we log and store of it must be masked.
            raise PermanentCarrierError("SANDBOX_REJECTED", f"the sandbox rejects numbers ending in 0099: {sms.to}")
        if digits.startswith("44"):  # a whole country, so that no test's generated number hits it by chance
            raise PermanentCarrierError("SANDBOX_NO_ROUTE", "the sandbox has no route to the United Kingdom (+44)")
        if self.delay:
            time.sleep(self.delay)
        carrier_id = "SBX" + uuid.uuid4().hex
        final = "undelivered" if digits.endswith("0013") else "delivered"
        self.outbox.append((sms.key, carrier_id))
        if len(self.outcomes) < 100_000:
            self.outcomes[carrier_id] = final
        if not self.drop_callbacks:
            self._callback(sms, carrier_id, final)
        return SendResult(carrier_id, "accepted")

    def query_status(self, carrier_message_id: str, key: str) -> StatusReport | None:
        """The final status of an SMS this process sent (None: another process's, or none)."""
        final = self.outcomes.get(carrier_message_id)
        if final is None:
            return None
        error = "SANDBOX_UNREACHABLE" if final == "undelivered" else ""
        return StatusReport(carrier_message_id, final, STATUS_MAP[final], key, error)

    def _callback(self, sms: OutboundSms, carrier_id: str, status: str) -> None:
        fields = {"message_id": carrier_id, "ref": sms.key, "status": status, "ts": int(time.time()), **PRICE}
        if status == "undelivered":
            fields["err_code"] = "SANDBOX_UNREACHABLE"
        body = encode_form(fields)
        import requests  # cold start: loaded when a function sends, not when it reads this carrier's SPEC

        try:
            requests.post(
                f"{sms.status_callback_url}?{urlencode({'ref': sms.key})}",
                data=body.encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded", "X-Sandbox-Signature": sign(self.secret, body)},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:  # a real carrier's callback can be lost too
            logger.warning("sandbox callback not delivered", extra={"status": status, "error": type(exc).__name__})

    def _verified_form(self, request: CallbackRequest) -> dict[str, Any]:
        """The callback's form fields, once its signature is checked (else SignatureError)."""
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not given or not same_signature(given, sign(self.secret, request.body)):
            raise SignatureError("missing or wrong X-Sandbox-Signature")
        return decode_form(request.body)

    def parse_status(self, request: CallbackRequest) -> list[StatusReport]:
        form = self._verified_form(request)
        status = str(form.get("status", ""))
        carrier_id = str(form.get("message_id", ""))
        if status not in STATUS_MAP or not carrier_id:
            raise ValueError("sandbox callback needs message_id and a known status")
        return [
            StatusReport(
                carrier_message_id=carrier_id,
                carrier_status=status,
                bitrix_status=STATUS_MAP[status],
                message_key=str(form.get("ref", "")),
                error_code=str(form.get("err_code", "")),
                price=(price := prices.total(form.get("price"))),
                price_unit=str(form.get("price_unit", ""))[:8] if price else "",
            )
        ]

    def parse_inbound(self, request: CallbackRequest) -> InboundSms:
        form = self._verified_form(request)
        message_id, sender = str(form.get("message_id", "")), str(form.get("from", ""))
        if not message_id or not sender:
            raise ValueError("sandbox inbound message needs message_id and from")
        return InboundSms(
            carrier_message_id=message_id, from_number=sender, to_number=str(form.get("to", "")), text=str(form.get("text", ""))
        )


def build(config: CarrierConfig, creds: Mapping[str, str]) -> SandboxCarrier:
    settings = get_settings()
    delay = sandbox_send_delay()
    return SandboxCarrier(creds.get("secret") or settings.carrier_secret("sandbox"), timeout=settings.http_timeout, delay=delay)


SPEC = CarrierSpec(
    name="sandbox",
    title={"en": "Sandbox (test, nothing is really sent)", "ru": "Песочница (тест, ничего не отправляется)"},
    settings=("SANDBOX_SECRET", "SANDBOX_SEND_DELAY_MS"),
    build=build,
    route_codes=frozenset({"SANDBOX_NO_ROUTE"}),  # UK numbers (+44): the demo's failover
    secret_keys=("secret",),
    status_queries_per_second=50.0,  # answered from this process's outbox
    # in the callback URL, like Twilio's: the body is read only once it is verified
    callback_key=lambda request: request.query.get("ref", ""),
    inbound_to=lambda request: str(decode_form(request.body).get("to", "")),
    price_from="report",  # price and price_unit in its signed callback (PRICE)
)
