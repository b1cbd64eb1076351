"""Carrier adapters by name. Adapters are imported only when asked for: a function pays the import
cost of the one carrier it uses, not of all of them."""

from __future__ import annotations

import os

from b24sms.carriers.base import (
    CallbackRequest,
    Carrier,
    CarrierError,
    CarrierOutcomeUnknown,
    CarrierThrottled,
    OutboundSms,
    PermanentCarrierError,
    SendResult,
    SignatureError,
    StatusReport,
    TransientCarrierError,
)
from b24sms.config import get_settings, secret

KNOWN = ("sandbox", "twilio")

__all__ = [
    "CallbackRequest",
    "Carrier",
    "CarrierError",
    "CarrierOutcomeUnknown",
    "CarrierThrottled",
    "OutboundSms",
    "PermanentCarrierError",
    "SendResult",
    "SignatureError",
    "StatusReport",
    "TransientCarrierError",
    "UnknownCarrier",
    "get_carrier",
]


class UnknownCarrier(LookupError):
    pass


def get_carrier(name: str) -> Carrier:
    try:
        return _build(name)
    except (RuntimeError, ValueError) as exc:  # a carrier this deployment has no settings for
        raise UnknownCarrier(f"carrier {name!r} is not configured: {exc}") from exc


def _build(name: str) -> Carrier:
    settings = get_settings()
    if name == "sandbox":
        from b24sms.carriers.sandbox import SandboxCarrier

        delay = float(os.environ.get("SANDBOX_SEND_DELAY_MS", "0")) / 1000
        return SandboxCarrier(settings.carrier_secret("sandbox"), timeout=settings.http_timeout, delay=delay)
    if name == "twilio":
        from b24sms.carriers.twilio import DEFAULT_API, TwilioCarrier

        return TwilioCarrier(
            os.environ.get("TWILIO_ACCOUNT_SID", ""),
            secret("TWILIO_AUTH_TOKEN"),
            sender=os.environ.get("TWILIO_FROM", ""),
            messaging_service_sid=os.environ.get("TWILIO_MESSAGING_SERVICE_SID", ""),
            api_base=os.environ.get("TWILIO_API_BASE", DEFAULT_API),
            timeout=settings.http_timeout,
        )
    raise UnknownCarrier(f"unknown carrier {name!r}; known: {', '.join(KNOWN)}")
