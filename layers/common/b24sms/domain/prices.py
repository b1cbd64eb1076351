"""What an SMS cost, as the carrier reported it: pure (no I/O).

Carriers give prices as decimal strings or numbers, in their own sign convention (Twilio's are
negative: money leaving the account); we keep the amount as a positive decimal string with its
currency on the message (``price``, ``price_unit``), and add it to the day counters in millionths
of the unit (``cost:<UNIT>``: DynamoDB's ``ADD`` on integers never rounds)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

MICROS = Decimal(1_000_000)
COST_PREFIX = "cost:"  # the day counters' cost per currency: cost:USD -> millionths of a dollar


def amount(value: Any) -> Decimal | None:
    """A carrier's price as a positive amount; None when it gave none or not a number."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        found = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return abs(found) if found.is_finite() else None


def total(*values: Any) -> str:
    """The sum of the prices given (segments, a message price and a fee) as a plain decimal string;
    "" when none of them is a price."""
    found = [a for a in (amount(v) for v in values) if a is not None]
    return _plain(sum(found, Decimal(0))) if found else ""


def micros(price: str) -> int:
    """A stored price in millionths of its unit (0 when none)."""
    found = amount(price)
    return int((found * MICROS).to_integral_value()) if found is not None else 0


def show(millionths: int, unit: str) -> str:
    """Millionths of ``unit`` as the page shows them: up to 4 decimals, e.g. ``0.0079 USD``."""
    value = (Decimal(millionths) / MICROS).quantize(Decimal("0.0001"))
    return f"{value} {unit}".strip()


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"
