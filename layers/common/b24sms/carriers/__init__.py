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
from b24sms.config import get_settings

KNOWN = ("sandbox",)

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
    settings = get_settings()
    if name == "sandbox":
        from b24sms.carriers.sandbox import SandboxCarrier

        delay = float(os.environ.get("SANDBOX_SEND_DELAY_MS", "0")) / 1000
        return SandboxCarrier(settings.carrier_secret("sandbox"), timeout=settings.http_timeout, delay=delay)
    raise UnknownCarrier(f"unknown carrier {name!r}; known: {', '.join(KNOWN)}")
