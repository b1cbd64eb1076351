"""The price of an SMS whose carrier tells it only in its status query (``SPEC.price_after``: Twilio's
Message resource ``price``/``price_unit``, SMS.ru's ``sms/status`` ``cost``), fetched through the
reconciler's machinery: no extra call while the message is on its way.

The write that stores such a message's final status without a price keeps it in ``by-reconcile``, due
``price_after`` seconds later (store/messages.py ``advance_status``; a final ``status_rank`` there is
the marker that only the price is wanted). The sweep queues it with its account's other messages and
``check_account`` asks the carrier once, paced like every status query (usecases/reconcile.py). The
price found is stored on the message in a write conditional on the message having no price yet
(store/recon.py ``record_price``), and only then added to its day's counters (its own day and sender;
one ADD per portal and day for the whole run): counted once, even if two runs ask. A carrier that has
no price yet is asked again at the next interval, at most ``TRIES`` times in all; then the message
leaves the index with no price.
"""

from __future__ import annotations

from b24sms.adapters import store
from b24sms.adapters.carriers import StatusReport
from b24sms.domain import prices, stats

TRIES = 2  # price queries per message at most (the normal case: one)


def record(member_id: str, message_id: str, report: StatusReport | None, counts: dict[tuple[str, str], stats.Counts]) -> bool:
    """Store the price a status query answered, unless the message already has one, and add it to
    ``counts`` (the day counters' increments: ``add`` writes them, one ADD per portal and day)."""
    price = prices.total(report.price) if report is not None else ""  # positive, as stored
    if report is None or not price or not report.price_unit:
        return False
    message = store.recon.record_price(member_id, message_id, price, report.price_unit)
    if message is None:  # it had a price already (another run) or is gone
        return False
    for day, increments in stats.price_counts(message).items():
        into = counts.setdefault(day, {})
        for name, value in increments.items():
            into[name] = into.get(name, 0) + value
    return True


def add(counts: dict[tuple[str, str], stats.Counts]) -> None:
    """The prices one account's run stored, added to their day counters: one ADD per portal and day."""
    if counts:
        store.counters.add_day_counts(counts)
