"""Delivery statistics per portal and day, pure (no I/O): what a batch of pushed statuses adds to the
day counters (one ``ADD`` per portal-day per batch, storage.add_day_counts), and the last days' series
the application's page draws from them.

A message is counted once, on the day it was created (UTC), when its final status (delivered,
undelivered, failed) reaches the portal: ``sent`` counts every such message, ``parts`` its SMS parts,
``cost:<UNIT>`` what the carriers said they cost (millionths of the currency, ``domain.prices``), and
``s:<CODE>:<counter>`` the same per sender. The application page's test SMS (``test-`` ids) are
never counted. The cost rides the same ``ADD``: no write of its own."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from b24sms.domain import prices
from b24sms.domain.bitrix_statuses import DELIVERED, FINAL
from b24sms.domain.models import Message

TEST_PREFIX = "test-"  # message ids of the application page's test SMS: never counted
DAY_PREFIX = "~day#"  # the day counters' sort key in MessagesTable (never a message id: "~" is not allowed there)
COUNTERS = ("sent", "delivered", "undelivered", "failed", "parts")
Counts = dict[str, int]


def day_of(timestamp: int | float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def tally(messages: Iterable[Message], now: float | None = None) -> dict[tuple[str, str], Counts]:
    """(member_id, day) -> counter increments for messages that just reached a final status."""
    out: dict[tuple[str, str], Counts] = {}
    for message in messages:
        if message.status not in FINAL or message.message_id.startswith(TEST_PREFIX):
            continue
        counts = out.setdefault((message.member_id, day_of(message.created_at or now or time.time())), {})
        code = message.code or "-"
        cost = (f"{prices.COST_PREFIX}{message.price_unit}", prices.micros(message.price)) if message.price_unit else ("", 0)
        for name, value in (("sent", 1), (message.status, 1), ("parts", max(message.segments, 0)), cost):
            if value:
                counts[name] = counts.get(name, 0) + value
                counts[f"s:{code}:{name}"] = counts.get(f"s:{code}:{name}", 0) + value
        # The hour the final status came in (delivery-rate alerts), in the same ADD: a message created on
        # an earlier day counts in that day's item, which the last hour's rate leaves out.
        at = time.time() if now is None else now
        for name in (hour_key(at, "f"), hour_key(at, "d") if message.status == DELIVERED else ""):
            if name:
                counts[name] = counts.get(name, 0) + 1
    return out


def hour_key(at: float, what: str) -> str:
    """The day counter of the final statuses (``f``) or deliveries (``d``) that came in ``at``'s hour (UTC)."""
    return f"h{time.gmtime(at).tm_hour:02d}:{what}"


def last_hour(counts: Counts, at: float) -> tuple[int, int]:
    """(final statuses, delivered) of about the last hour, from a day's counters: this hour's, and the
    previous hour's share still inside the window (not before midnight UTC: that is another day's)."""
    minutes = time.gmtime(at).tm_min
    share = 1 - minutes / 60 if time.gmtime(at).tm_hour else 0.0
    final = counts.get(hour_key(at, "f"), 0) + share * counts.get(hour_key(at - 3600, "f"), 0)
    delivered = counts.get(hour_key(at, "d"), 0) + share * counts.get(hour_key(at - 3600, "d"), 0)
    return round(final), round(delivered)


@dataclass
class Day:
    day: str
    sent: int = 0
    delivered: int = 0
    undelivered: int = 0
    failed: int = 0
    parts: int = 0
    cost: dict[str, int] = field(default_factory=dict)  # currency -> millionths (``prices.show``)

    @property
    def spent(self) -> str:
        """What the day cost, as the page shows it ("0.0158 USD, 0.0666 EUR"; "" when nothing was priced)."""
        return spent(self.cost)


@dataclass
class Summary:
    days: list[Day]
    totals: Day
    by_sender: dict[str, Counts] = field(default_factory=dict)

    @property
    def delivery_rate(self) -> float | None:
        """Delivered out of those with a final status; None without any."""
        return self.totals.delivered / self.totals.sent if self.totals.sent else None

    def sender_spent(self, code: str) -> str:
        """What the sender ``code``'s SMS cost in these days, as the page shows it."""
        counts = self.by_sender.get(code, {})
        return spent({k[len(prices.COST_PREFIX) :]: v for k, v in counts.items() if k.startswith(prices.COST_PREFIX)})

    @property
    def peak(self) -> int:
        return max([d.sent for d in self.days] + [1])


def summarise(stored: dict[str, dict[str, int]], days: int = 30, today: float | None = None) -> Summary:
    """The last ``days`` days (oldest first, empty days included) from stored counters by day."""
    now = time.time() if today is None else today
    series = [Day(day_of(now - 86400 * back)) for back in range(days - 1, -1, -1)]
    totals = Day("total")
    by_sender: dict[str, Counts] = {}
    for entry in series:
        counts = stored.get(entry.day, {})
        for name in COUNTERS:
            value = int(counts.get(name, 0))
            setattr(entry, name, value)
            setattr(totals, name, getattr(totals, name) + value)
        for key, value in counts.items():
            if key.startswith(prices.COST_PREFIX):
                unit = key[len(prices.COST_PREFIX) :]
                entry.cost[unit] = int(value)
                totals.cost[unit] = totals.cost.get(unit, 0) + int(value)
        for key, value in counts.items():
            if key.startswith("s:"):
                _, code, name = key.split(":", 2)
                sender = by_sender.setdefault(code, {})
                sender[name] = sender.get(name, 0) + int(value)
    return Summary(series, totals, by_sender)


def spent(cost: dict[str, int]) -> str:
    """Millionths by currency as one text, currencies in order; "" for none."""
    return ", ".join(prices.show(value, unit) for unit, value in sorted(cost.items()) if value)


def price_counts(message: Message) -> dict[tuple[str, str], Counts]:
    """The day counters' increments for a price learnt after the message's final status was counted
    (usecases/reconcile_price.py): its cost on its own day and sender, as ``tally`` would have added it."""
    micros = prices.micros(message.price)
    if not micros or not message.price_unit or message.message_id.startswith(TEST_PREFIX):
        return {}
    name = f"{prices.COST_PREFIX}{message.price_unit}"
    code = message.code or "-"
    return {(message.member_id, day_of(message.created_at or time.time())): {name: micros, f"s:{code}:{name}": micros}}
