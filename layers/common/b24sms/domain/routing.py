"""Which carrier sends a message, and whether a refused send may go out through the fallback carrier.

A routing table maps a destination to a carrier: an ISO region (``RU``), a country calling code
(``+7``: Russia and Kazakhstan) or ``*`` (every other destination); ``fallback`` names the carrier that
takes a message the chosen one definitively did not accept. A portal has its own table
(``Portal.routing``); the deployment's (``CARRIER_ROUTES``, ``FALLBACK_CARRIER``) applies to portals
without one. A region wins over a calling code, a calling code over ``*``.

The decision to fail over is pure (``failover_reason``): only outcomes that prove the primary did not
take the SMS qualify, so a message is never sent twice. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

FALLBACK = "fallback"
ANY = "*"
_KEY = re.compile(r"^(\+[1-9]\d{0,2}|[A-Z]{2}|\*)$")
MAX_ROUTES = 50  # a portal's table stays a small item attribute


class InvalidRouting(ValueError):
    """A routing table that cannot be used; ``str(exc)`` says which entry and why, ``entry`` names the
    entry alone (what the page quotes inside its own sentence, in the user's language)."""

    def __init__(self, message: str, entry: str = "") -> None:
        super().__init__(message)
        self.entry = entry


@dataclass(frozen=True)
class Routing:
    routes: Mapping[str, str]  # "RU" / "+7" / "*" -> carrier
    fallback: str = ""

    @property
    def empty(self) -> bool:
        return not self.routes and not self.fallback

    def carrier_for(self, region: str, calling_code: int) -> str:
        """The carrier for a destination (its ISO region and calling code); "" when no entry matches."""
        return self.routes.get(region) or self.routes.get(f"+{calling_code}") or self.routes.get(ANY) or ""

    def to_item(self) -> dict[str, str]:
        item = dict(self.routes)
        if self.fallback:
            item[FALLBACK] = self.fallback
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, str]) -> Routing:
        routes = {k: v for k, v in item.items() if k != FALLBACK and v}
        return cls(routes, item.get(FALLBACK, ""))


def parse(text: str) -> dict[str, str]:
    """``+7=smsru, KZ=smsru, *=twilio, fallback=vonage`` (the setting's and the CLI's form) as entries."""
    entries: dict[str, str] = {}
    for part in (text or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        key, sep, carrier = part.partition("=")
        if not sep:
            raise InvalidRouting(
                f"{part.strip()[:40]!r}: write destination=carrier (e.g. +7=smsru, fallback=vonage)", repr(part.strip()[:40])
            )
        entries[key.strip()] = carrier.strip()
    return entries


def validate(entries: Mapping[str, str], known: Iterable[str], is_region: Callable[[str], bool] | None = None) -> Routing:
    """The table ``entries`` checked: keys a region, a calling code, ``*`` or ``fallback``; values known
    carriers. ``is_region`` (a callable) also checks that a region exists (phonenumbers' list)."""
    carriers = set(known)
    if len(entries) > MAX_ROUTES:
        raise InvalidRouting(f"{len(entries)} entries: at most {MAX_ROUTES}")
    clean: dict[str, str] = {}
    for raw_key, raw_carrier in entries.items():
        key = raw_key.strip()
        key = key if key == FALLBACK else key.upper()
        carrier = raw_carrier.strip()
        if key != FALLBACK and not _KEY.match(key):
            raise InvalidRouting(
                f"{raw_key[:20]!r}: a destination is an ISO region (RU), a calling code (+7) or *", repr(raw_key[:20])
            )
        if key not in (FALLBACK, ANY) and key[0] != "+" and is_region is not None and not is_region(key):
            raise InvalidRouting(f"{key!r} is not a region phonenumbers knows (e.g. RU, US, DE)", repr(key))
        if carrier not in carriers:
            raise InvalidRouting(f"{key}: unknown carrier {carrier[:40]!r}; one of {', '.join(sorted(carriers))}")
        clean[key] = carrier
    return Routing.from_item(clean)


def destination(e164: str) -> tuple[str, int]:
    """(ISO region, calling code) of a number in E.164; ("", 0) when it has none."""
    import phonenumbers  # cold start: as phones.to_e164, which dispatch has already paid for

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "", 0
    return phonenumbers.region_code_for_number(number) or "", int(number.country_code or 0)


# -- the failover decision --------------------------------------------------------------------------

UNREACHABLE = "unreachable"  # the connection failed before the request was written
ROUTE = "route"  # the carrier refused with a code meaning "not through this route"
THROTTLED = "throttled"  # the carrier asked us to wait longer than we may


@dataclass(frozen=True)
class SendFailure:
    """What the primary carrier's refusal says, as the decision needs it."""

    kind: str  # permanent | unreachable | throttled | transient | unknown
    code: str
    retry_after: float = 0.0


def failover_reason(failure: SendFailure, route_codes: frozenset[str], waited: float, max_wait: float) -> str:
    """Why the message may go out through the fallback ("" when it may not): a route refusal listed in
    the primary's ``route_codes``, a connection that never carried the request, or throttling that
    would make it wait (``waited`` since it was handed over, plus ``retry_after``) past ``max_wait``.
    An unknown outcome (the request may have been read) never fails over, nor does any other error."""
    if failure.kind == "permanent" and failure.code in route_codes:
        return ROUTE
    if failure.kind == "unreachable":
        return UNREACHABLE
    if failure.kind == "throttled" and waited + failure.retry_after > max_wait:
        return THROTTLED
    return ""
