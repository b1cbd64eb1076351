"""Which carrier sends a message (routing by destination country) and, when that one definitively did
not take it, the fallback carrier: never a second SMS.

- the route: a sender with its own carrier keeps it; otherwise the portal's routing table
  (``Portal.routing``), or, for a portal on the deployment's carrier, the deployment's
  (``CARRIER_ROUTES``); then the portal's (or the deployment's) carrier;
- the fallback: the portal's table's ``fallback``, else (on the deployment's carrier) ``FALLBACK_CARRIER``;
- it fails over only when the primary provably does not have the SMS (``routing.failover_reason``):
  a refusal listed in its ``SPEC.route_codes``, a connection that failed before the request was
  written (``CarrierUnreachable``), or throttling past ``FAILOVER_THROTTLE_WAIT``. An unknown outcome
  (``CarrierOutcomeUnknown``) never does. Both refusing: the error names both.

Cost: a message that fails over makes one more carrier request (and is billed by the fallback only,
the primary having refused it); no extra DynamoDB request (the reason rides the write that records
the carrier's id).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from aws_lambda_powertools import Logger

from b24sms.adapters import carriers, config
from b24sms.adapters.carriers import (
    Carrier,
    CarrierError,
    CarrierOutcomeUnknown,
    CarrierThrottled,
    CarrierUnreachable,
    OutboundSms,
    PermanentCarrierError,
    SendResult,
    TransientCarrierError,
    get_carrier,
)
from b24sms.domain import routing
from b24sms.domain.models import CarrierConfig, Portal
from b24sms.domain.privacy import mask_carrier_text

logger = Logger(child=True)


@dataclass(frozen=True)
class Leg:
    carrier: str
    config: CarrierConfig | None  # the portal's own account, or None: the deployment's


@dataclass(frozen=True)
class Route:
    primary: Leg
    fallback: Leg | None = None


@dataclass(frozen=True)
class Sent:
    carrier: Carrier
    config: CarrierConfig | None
    result: SendResult
    failover: str = ""  # "" sent by the primary; else why it failed over ("TWILIO_21612 at twilio")


def deployment_routing() -> routing.Routing:
    """The deployment's table and fallback (settings); an invalid one is ignored, loudly."""
    try:
        entries = routing.parse(config.carrier_routes())
        if config.fallback_carrier():
            entries[routing.FALLBACK] = config.fallback_carrier()
        return routing.validate(entries, carriers.known())
    except routing.InvalidRouting as exc:
        logger.error("CARRIER_ROUTES/FALLBACK_CARRIER ignored", extra={"error": str(exc)})
        return routing.Routing({})


def route(portal: Portal, code: str, to: str) -> Route:
    """The carriers for the message of sender ``code`` to ``to`` (E.164)."""
    base = portal.carrier_for(code)
    sender_own = bool(code and portal.senders.get(code, {}).get("carrier"))
    if portal.routing:
        table = routing.Routing.from_item(portal.routing)
        account = portal.account
    elif base is None:  # the deployment's carrier: the deployment's routing
        table = deployment_routing()
        account = _no_account
    else:
        table = routing.Routing({})
        account = _no_account
    chosen = "" if sender_own else table.carrier_for(*routing.destination(to))
    if chosen:
        primary = Leg(chosen, account(chosen) or (base if base and base.carrier == chosen else None))
    else:
        primary = Leg(base.carrier if base else carriers.default_name(), base)
    fallback = table.fallback
    if not fallback or fallback == primary.carrier:
        return Route(primary)
    return Route(primary, Leg(fallback, account(fallback)))


def _no_account(carrier: str) -> CarrierConfig | None:
    return None


def send(
    plan: Route,
    sms: OutboundSms,
    waited: float,
    callback_url: Callable[[str], str],
    build: Callable[[str, CarrierConfig | None], Carrier] = get_carrier,
) -> Sent:
    """Send ``sms`` through the primary, and through the fallback when the primary definitively did not
    take it (``waited``: seconds since it was handed over; ``callback_url(carrier)``: the status route
    of the carrier that sends; ``build``: makes a carrier's adapter, dispatch passes its own). Raises
    the carrier errors dispatch handles; when both refused, the fallback's error, of its kind, with
    both reasons."""
    first: CarrierError
    try:
        primary: Carrier | None = build(plan.primary.carrier, plan.primary.config)
    except carriers.UnknownCarrier as exc:  # nothing sent: the fallback may take it, else retried later
        primary, first = None, CarrierUnreachable("CARRIER_NOT_CONFIGURED", str(exc))
        if plan.fallback is None:
            raise first from exc
    if primary is not None:
        try:
            return Sent(primary, plan.primary.config, primary.send(replace(sms, status_callback_url=callback_url(primary.name))))
        except CarrierError as exc:
            if plan.fallback is None:
                raise
            first = exc
    assert plan.fallback is not None
    name = plan.primary.carrier
    why = routing.failover_reason(_failure(first), carriers.route_codes(name), waited, config.failover_max_wait())
    if not why:
        raise first
    reason = f"{first.code} at {name} ({why})"
    try:
        fallback = build(plan.fallback.carrier, plan.fallback.config)
    except carriers.UnknownCarrier as exc:  # not configured: the primary's refusal stands
        logger.error("fallback carrier not configured", extra={"carrier": plan.fallback.carrier, "error": str(exc)})
        raise first from exc
    logger.warning("failing over", extra={"from": name, "to": fallback.name, "reason": reason})
    try:
        result = fallback.send(replace(sms, status_callback_url=callback_url(fallback.name)))
    except CarrierOutcomeUnknown:
        raise  # the fallback may have it: never sent again
    except CarrierError as exc:
        raise _both(first, exc) from exc
    return Sent(fallback, plan.fallback.config, result, reason)


def _failure(exc: CarrierError) -> routing.SendFailure:
    if isinstance(exc, CarrierOutcomeUnknown):
        return routing.SendFailure("unknown", exc.code)
    if isinstance(exc, CarrierUnreachable):
        return routing.SendFailure("unreachable", exc.code)
    if isinstance(exc, CarrierThrottled):
        return routing.SendFailure("throttled", exc.code, exc.retry_after)
    if isinstance(exc, PermanentCarrierError):
        return routing.SendFailure("permanent", exc.code)
    return routing.SendFailure("transient", exc.code)


def _both(first: CarrierError, second: CarrierError) -> CarrierError:
    """The fallback's error, of its kind, saying what both carriers answered."""
    text = mask_carrier_text(f"{first.code}: {first.message}; then {second.code}: {second.message}")
    if isinstance(second, CarrierThrottled):
        return CarrierThrottled(second.code, text, second.retry_after)
    if isinstance(second, TransientCarrierError):
        return TransientCarrierError(second.code, text)
    return PermanentCarrierError(second.code, text)
