"""Carrier adapters as plug-ins. Each module of ``MODULES`` declares its carrier in a ``SPEC``
(``base.CarrierSpec``): name, settings, credentials, callback key, opt-out codes, how to build the
adapter. Everything else here is derived from those specs. A spec module is cheap to import (its
adapter imports ``requests`` or ``boto3`` only when it sends), and a function builds only the carrier
it uses.

Adding a carrier: one module here (its adapter and ``SPEC``), its name in ``MODULES``, its fake in
``local/fakes/``, its tests, and a row in docs/carriers.md.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from functools import cache

from b24sms.adapters import config
from b24sms.adapters.carriers.base import (
    CallbackRequest,
    Carrier,
    CarrierError,
    CarrierOutcomeUnknown,
    CarrierSpec,
    CarrierThrottled,
    CarrierUnreachable,
    CheckFailed,
    Field,
    InboundSms,
    OutboundSms,
    PermanentCarrierError,
    SendResult,
    SignatureError,
    StatusQuery,
    StatusReport,
    TransientCarrierError,
)
from b24sms.adapters.config import get_settings, secret_json, settings_generation
from b24sms.domain.models import CarrierConfig

MODULES = ("sandbox", "twilio", "vonage", "aws_sms", "smsru")  # the first is the default carrier

__all__ = [
    "CallbackRequest",
    "Carrier",
    "CarrierError",
    "CarrierOutcomeUnknown",
    "CarrierSpec",
    "CarrierThrottled",
    "CarrierUnreachable",
    "CheckFailed",
    "Field",
    "InboundSms",
    "OutboundSms",
    "PermanentCarrierError",
    "SendResult",
    "SignatureError",
    "StatusQuery",
    "StatusReport",
    "TransientCarrierError",
    "UnknownCarrier",
    "callback_key",
    "default_name",
    "delivery_time",
    "get_carrier",
    "inbound_to",
    "known",
    "page_texts",
    "query_status",
    "spec",
    "specs",
    "status_query_rate",
    "unverifiable",
]


class UnknownCarrier(LookupError):
    pass


@cache
def specs() -> dict[str, CarrierSpec]:
    """Every carrier's spec by name, in the order of ``MODULES``."""
    found = (importlib.import_module(f"{__name__}.{module}").SPEC for module in MODULES)
    return {s.name: s for s in found}


def known() -> tuple[str, ...]:
    """The carriers' names (the template's Carrier parameter, the CLI and the routes take these)."""
    return tuple(specs())


def spec(name: str) -> CarrierSpec:
    """The spec of carrier ``name``; ``UnknownCarrier`` if no module declares it."""
    found = specs().get(name)
    if found is None:
        raise UnknownCarrier(f"unknown carrier {name[:40]!r}; known: {', '.join(known())}")
    return found


def default_name() -> str:
    """The deployment's carrier (the CARRIER setting), else the first of ``MODULES``."""
    return get_settings().carrier or known()[0]


def page_texts(lang: str) -> dict[str, str]:
    """What the carriers declare for the page, as its catalogue's keys, in ``lang`` (else English):
    ``carrier.<name>`` (its title), ``carrier.<name>.<field>`` (a credential's label) and
    ``carrier.<name>.<field>.invalid`` (a value of the wrong format; ``sender`` for its sender rule),
    ``err.<CODE>`` (its errors)."""

    def pick(texts: Mapping[str, str]) -> str:
        return texts.get(lang) or texts.get("en", "")

    found: dict[str, str] = {}
    for name, s in specs().items():
        found[f"carrier.{name}"] = pick(s.title) or name
        if s.sender_invalid:
            found[f"carrier.{name}.sender.invalid"] = pick(s.sender_invalid)
        for f in s.fields:
            found[f"carrier.{name}.{f.key}"] = pick(f.label) or f.key
            if f.invalid:
                found[f"carrier.{name}.{f.key}.invalid"] = pick(f.invalid)
        found.update({f"err.{code}": pick(texts) for code, texts in s.error_texts.items()})
    return found


def default_sender_env(name: str) -> str:
    """The setting naming the deployment's default sender of carrier ``name`` ("" if none or unknown)."""
    found = specs().get(name)
    return found.default_sender if found else ""


def default_sender(name: str) -> str:
    """The deployment's default sender of carrier ``name`` (its setting's value; "" if none or unknown)."""
    setting = default_sender_env(name)
    return config.setting(setting) if setting else ""


def unverifiable(name: str, creds: Mapping[str, str]) -> str:
    """The credential a setup of carrier ``name`` lacks to verify its callbacks, "" when none: a
    carrier with a ``callback_secret`` needs it in the portal's credentials ``creds`` or, failing
    that, the deployment's ``callback_secret_setting`` (the value or its ``_PARAM``; not read here)."""
    found = spec(name)
    if not found.callback_secret or creds.get(found.callback_secret):
        return ""
    setting = found.callback_secret_setting
    if setting and config.is_configured(setting):
        return ""
    return found.callback_secret


def opt_out_codes() -> frozenset[str]:
    """Every carrier's send refusals that mean the recipient opted out."""
    return frozenset().union(*(s.opt_out_codes for s in specs().values()))


def account_refusal(name: str, code: str) -> str:
    """The cause (``domain.holds``) when carrier ``name``'s error ``code`` refuses the account itself, else ""."""
    found = specs().get(name)
    return str(found.account_refusals.get(code, "")) if found else ""


def account_refusal_of(code: str) -> str:
    """The cause when an error ``code`` of any carrier (their codes carry the carrier's prefix) refuses
    the account itself, else "" (a failover's combined error keeps the code of the carrier that answered)."""
    return next((str(s.account_refusals[code]) for s in specs().values() if code in s.account_refusals), "")


def route_codes(name: str) -> frozenset[str]:
    """Carrier ``name``'s send refusals that mean "not through this route" (empty if unknown)."""
    found = specs().get(name)
    return found.route_codes if found else frozenset()


def settings() -> tuple[str, ...]:
    """Every carrier's deployment settings (what the local stack lets ``make run`` override)."""
    return tuple(dict.fromkeys(name for s in specs().values() for name in s.settings))


# Carriers the deployment has no settings for, and until when we believe it: a public route must not
# cost a parameter-store read per call to a carrier we do not serve.
UNCONFIGURED_TTL = 60.0
_unconfigured: dict[str, tuple[float, int, str]] = {}  # name -> (until, settings generation, detail)


def check_known(name: str) -> None:
    """``UnknownCarrier`` for a name we have no adapter for, or whose deployment settings were found
    missing in the last ``UNCONFIGURED_TTL`` seconds; cheap, so it runs before a request is read."""
    spec(name)
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
    else:
        spec(name)
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
    return spec(name).callback_key(request)


def inbound_to(name: str, request: CallbackRequest) -> str:
    """Our number as an inbound webhook to carrier ``name`` gives it (unverified: it only chooses whose
    credentials verify the webhook)."""
    return spec(name).inbound_to(request)


def delivery_time(name: str) -> int:
    """Seconds after which a message of carrier ``name`` without a final status is asked about: the
    deployment's ``RECONCILE_AFTER`` when set, else the carrier's usual delivery time."""
    found = specs().get(name)
    return config.reconcile_after() or (found.delivery_time if found else 1800)


def status_query_rate(name: str) -> float:
    """Status queries a second one account of carrier ``name`` may be sent (0: it has no status query)."""
    found = specs().get(name)
    return found.status_queries_per_second if found else 0.0


def query_status(carrier: Carrier, carrier_message_id: str, key: str) -> StatusReport | None:
    """Ask the carrier for one message's status (``StatusQuery``); None when it cannot be asked or
    does not know the message; ``TransientCarrierError`` when asking failed."""
    query: StatusQuery | None = carrier if hasattr(carrier, "query_status") else None  # type: ignore[assignment]
    return query.query_status(carrier_message_id, key) if query is not None else None


def _build(name: str, config: CarrierConfig) -> Carrier:
    return spec(name).build(config, secret_json(config.credentials) if config.credentials else {})


def price_after(name: str) -> int:
    """Seconds after a final status when carrier ``name``'s status query has the SMS's price; 0 when
    its price is not fetched (it comes with the send or the report, or never)."""
    found = specs().get(name)
    return found.price_after if found and found.status_queries_per_second > 0 else 0
