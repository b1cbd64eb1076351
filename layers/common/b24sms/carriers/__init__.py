"""Carrier adapters by name. Adapters are imported only when asked for: a function pays the import
cost of the one carrier it uses, not of all of them."""

from __future__ import annotations

import os
import time

from b24sms.carriers.base import (
    CallbackRequest,
    Carrier,
    CarrierError,
    CarrierOutcomeUnknown,
    CarrierThrottled,
    InboundSms,
    OutboundSms,
    PermanentCarrierError,
    SendResult,
    SignatureError,
    StatusReport,
    TransientCarrierError,
)
from b24sms.config import get_settings, optional_secret, secret, secret_json, settings_generation
from b24sms.models import CarrierConfig

KNOWN = ("sandbox", "twilio", "vonage", "aws")

__all__ = [
    "CallbackRequest",
    "Carrier",
    "CarrierError",
    "CarrierOutcomeUnknown",
    "CarrierThrottled",
    "InboundSms",
    "OutboundSms",
    "PermanentCarrierError",
    "SendResult",
    "SignatureError",
    "StatusReport",
    "TransientCarrierError",
    "UnknownCarrier",
    "callback_key",
    "get_carrier",
]


class UnknownCarrier(LookupError):
    pass


# Carriers the deployment has no settings for, and until when we believe it: a public route must not
# cost a parameter-store read per call to a carrier we do not serve.
UNCONFIGURED_TTL = 60.0
_unconfigured: dict[str, tuple[float, int, str]] = {}  # name -> (until, settings generation, detail)


def check_known(name: str) -> None:
    """``UnknownCarrier`` for a name we have no adapter for, or whose deployment settings were found
    missing in the last ``UNCONFIGURED_TTL`` seconds; cheap, so it runs before a request is read."""
    if name not in KNOWN:
        raise UnknownCarrier(f"unknown carrier {name[:40]!r}; known: {', '.join(KNOWN)}")
    missing = _unconfigured.get(name)
    if missing and missing[0] > time.monotonic() and missing[1] == settings_generation():
        raise UnknownCarrier(missing[2])


def get_carrier(name: str, config: CarrierConfig | None = None) -> Carrier:
    """The adapter for ``name``: with a portal's own sender and credentials when ``config`` is that
    portal's configuration for this carrier, else the deployment's defaults (environment/SSM)."""
    if config is not None and config.carrier != name:
        config = None
    if config is None:
        check_known(name)
    elif name not in KNOWN:
        raise UnknownCarrier(f"unknown carrier {name[:40]!r}; known: {', '.join(KNOWN)}")
    try:
        return _build(name, config or CarrierConfig(name))
    except (RuntimeError, ValueError) as exc:  # a carrier this deployment/portal has no settings for
        raise _not_configured(name, config, exc) from exc
    except Exception as exc:
        if type(exc).__name__ in ("GetParameterError", "GetSecretError", "TransformParameterError"):  # Powertools'
            raise _not_configured(name, config, exc) from exc
        raise


def _not_configured(name: str, config: CarrierConfig | None, exc: Exception) -> UnknownCarrier:
    error = UnknownCarrier(f"carrier {name!r} is not configured: {exc}")
    if config is None:  # the deployment's own settings: remembered for a while
        _unconfigured[name] = (time.monotonic() + UNCONFIGURED_TTL, settings_generation(), str(error))
    return error


def callback_key(name: str, request: CallbackRequest) -> str:
    """Our message key as a callback to carrier ``name`` carries it (unverified: it only chooses whose
    credentials verify the callback)."""
    if name == "twilio":
        return request.query.get("ref", "")
    if name == "vonage":
        from b24sms.carriers.vonage import receipt_params

        return receipt_params(request).get("client-ref", "")
    if name == "sandbox":  # in the callback URL, like Twilio's: the body is read only once it is verified
        return request.query.get("ref", "")
    return ""


def _credentials(config: CarrierConfig) -> dict[str, str]:
    return secret_json(config.credentials) if config.credentials else {}


def _build(name: str, config: CarrierConfig) -> Carrier:
    settings = get_settings()
    creds = _credentials(config)
    env = os.environ.get
    if name == "sandbox":
        from b24sms.carriers.sandbox import SandboxCarrier

        delay = float(env("SANDBOX_SEND_DELAY_MS", "0")) / 1000
        return SandboxCarrier(
            creds.get("secret") or settings.carrier_secret("sandbox"), timeout=settings.http_timeout, delay=delay
        )
    if name == "twilio":
        from b24sms.carriers.twilio import DEFAULT_API, TwilioCarrier

        sender = config.sender or env("TWILIO_FROM", "")
        service = env("TWILIO_MESSAGING_SERVICE_SID", "") if not config.sender else ""
        if sender.startswith("MG"):  # a messaging service, not a number or sender id
            sender, service = "", sender
        return TwilioCarrier(
            creds.get("account_sid") or env("TWILIO_ACCOUNT_SID", ""),
            creds.get("auth_token") or secret("TWILIO_AUTH_TOKEN"),
            sender=sender,
            messaging_service_sid=service,
            api_base=env("TWILIO_API_BASE", DEFAULT_API),
            timeout=settings.http_timeout,
        )
    if name == "vonage":
        from b24sms.carriers.vonage import DEFAULT_API as VONAGE_API
        from b24sms.carriers.vonage import VonageCarrier

        if creds:  # a portal's own account: its signature settings come with it
            signature_secret, method = creds.get("signature_secret", ""), creds.get("signature_method", "md5hash")
        else:
            signature_secret, method = optional_secret("VONAGE_SIGNATURE_SECRET"), env("VONAGE_SIGNATURE_METHOD", "md5hash")
        return VonageCarrier(
            creds.get("api_key") or env("VONAGE_API_KEY", ""),
            creds.get("api_secret") or optional_secret("VONAGE_API_SECRET"),
            sender=config.sender or env("VONAGE_FROM", ""),
            signature_secret=signature_secret,
            signature_method=method or "md5hash",
            api_base=env("VONAGE_API_BASE", VONAGE_API),
            timeout=settings.http_timeout,
        )
    from b24sms.carriers.aws_sms import AwsSmsCarrier

    # IAM authenticates: a portal picks its own origination identity, never other credentials.
    return AwsSmsCarrier(
        origination_identity=config.sender or env("AWS_SMS_ORIGINATION_IDENTITY", ""),
        configuration_set=env("AWS_SMS_CONFIGURATION_SET", ""),
        message_type=env("AWS_SMS_MESSAGE_TYPE", "TRANSACTIONAL"),
        endpoint_url=env("AWS_SMS_ENDPOINT", ""),
        timeout=settings.http_timeout,
    )
