"""The reconciler's cost per 1,000 messages (`make bench` section 2b; alone: `python -m bench.reconcile_cost`).

Runs the real ``usecases/reconcile.py`` (sweep every five minutes, one queue message per carrier account,
the account's queries) and the real ``status_updates.apply_report`` over 72 simulated hours, on in-memory
stand-ins of what they call (this module's ``Store``: the message records, ``by-reconcile``, the
requests each call would make; a carrier that answers queries; SQS as a counter). No stack, no sleep:
it takes about a second. Scenarios, each for 1,000 SMS sent at once:

- ``on_time``: every callback arrives before the carrier's delivery time (the normal case);
- ``lost_5pct``: 5 % of the callbacks are lost; the carrier's status query answers ``delivered``;
- ``lost_5pct_no_query``: the same with a carrier that has no status query (AWS, Vonage): they end
  ``undelivered`` after the give-up age;
- ``stuck_all``: no callback at all and the carrier says ``sent`` until the end (the worst case).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any
from unittest import mock

import local  # noqa: F401  (puts the layer on sys.path, for `python -m bench.reconcile_cost`)

# isort: split
from b24sms.adapters.carriers import StatusReport
from b24sms.adapters.store.recon import Due
from b24sms.domain import bitrix_statuses, prices
from b24sms.domain.models import Message

SWEEP_EVERY = 300  # ReconcileFunction's schedule
HOURS = 73
DELIVERY_TIME = 1800


@dataclass
class Store:
    """``store.messages`` (what apply_report calls) and ``store.recon`` over one dict, counting requests."""

    now_s: int = 1_800_000_000
    index_writes: int = 0  # by-reconcile entries added or removed (write units on the index)

    def __post_init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.items: dict[tuple[str, str], Message] = {}
        self.recon: dict[tuple[str, str], tuple[int, int]] = {}  # key -> (due, tries)
        self.messages = self  # the modules' names, as the code reaches them
        self.recon_api = SimpleNamespace(due=self.due, take=self.take, drop=self.drop, record_price=self.record_price)
        self.counted: Counter[tuple[str, str, str]] = Counter()  # (member_id, day, counter) -> what ADDs added
        self.counters_api = SimpleNamespace(add_day_counts=self.add_day_counts)

    def now(self) -> int:
        return self.now_s

    def _req(self, name: str) -> None:
        self.requests[name] += 1

    # The send's answer recorded (dispatch): the message enters by-reconcile in that same write.
    def sent(self, member_id: str, message_id: str, carrier: str, carrier_message_id: str, after: int) -> None:
        key = (member_id, message_id)
        self.items[key] = Message(member_id, message_id, status="sent", status_rank=1, carrier=carrier,
                                  carrier_message_id=carrier_message_id, created_at=self.now_s)  # fmt: skip
        self.recon[key] = (self.now_s + after, 0)
        self.index_writes += 1

    # store.messages
    def advance_status(self, member_id: str, message_id: str, status: str, status_rank: int, **kw: Any) -> Message | None:
        self._req("dynamodb.UpdateItem")
        key = (member_id, message_id)
        current = self.items.get(key)
        if current is None or current.status_rank >= status_rank:
            return None
        self.items[key] = replace(current, status=status, status_rank=status_rank, error_code=kw.get("error_code", ""),
                                  history=[*current.history, {"status": status, "source": kw.get("source", "")}],
                                  price=kw.get("price") or current.price,
                                  price_unit=kw.get("price_unit") or current.price_unit)  # fmt: skip
        if status in bitrix_statuses.FINAL and kw.get("price_after") and not kw.get("price"):  # only its price left to ask
            self.index_writes += 2 if key in self.recon else 1
            self.recon[key] = (self.now_s + kw["price_after"], 0)
        elif status in bitrix_statuses.FINAL and self.recon.pop(key, None) is not None:
            self.index_writes += 1
        return self.items[key]

    def record_price(self, member_id: str, message_id: str, price: str, price_unit: str) -> Message | None:
        self._req("dynamodb.UpdateItem")
        key = (member_id, message_id)
        current = self.items.get(key)
        if current is None or current.price or current.status not in bitrix_statuses.FINAL:
            return None
        self.items[key] = replace(current, price=price, price_unit=price_unit)
        self.index_writes += self.recon.pop(key, None) is not None
        return self.items[key]

    # store.counters
    def add_day_counts(self, counts: dict[tuple[str, str], dict[str, int]], seen: Any = None) -> int:
        for (member_id, day), increments in counts.items():
            self._req("dynamodb.UpdateItem")
            for name, value in increments.items():
                self.counted[(member_id, day, name)] += value
        return len(counts)

    def get_message(self, member_id: str, message_id: str) -> Message | None:
        self._req("dynamodb.GetItem")
        return self.items.get((member_id, message_id))

    def find_key_by_carrier_id(self, carrier: str, carrier_message_id: str) -> tuple[str, str] | None:
        raise AssertionError("the reconciler's reports carry our key")

    # store.recon
    def due(self, limit: int, at: int | None = None) -> list[Due]:
        cutoff = self.now_s if at is None else at
        found = sorted((d, k, t) for k, (d, t) in self.recon.items() if d <= cutoff)
        self.requests["dynamodb.Query"] += 8  # one per shard
        out = []
        for due, key, tries in found[:limit]:
            m = self.items[key]
            out.append(Due(key[0], key[1], due, tries, m.carrier, m.carrier_message_id, "", "", m.created_at, m.status_rank))
        return out

    def take(self, member_id: str, message_id: str, seen_due: int, next_due: int) -> bool:
        self._req("dynamodb.UpdateItem")
        key = (member_id, message_id)
        if key not in self.recon or self.recon[key][0] != seen_due:
            return False
        self.recon[key] = (next_due, self.recon[key][1] + 1)
        self.index_writes += 2  # the index entry's sort key moves: a delete and a put on the index
        return True

    def drop(self, member_id: str, message_id: str, seen_due: int) -> bool:
        self._req("dynamodb.UpdateItem")
        self.index_writes += self.recon.pop((member_id, message_id), None) is not None
        return True


class Carrier:
    """A carrier account: what its status query answers for each id, and how often it was asked."""

    name = "sim"

    def __init__(self, answers: dict[str, str], clock: Callable[[], int] = lambda: 0, price: str = "") -> None:
        self.answers = answers
        self.price = price  # what every answer says an SMS cost, in USD ("": no price yet)
        self.clock = clock
        self.asked: Counter[str] = Counter()
        self.times: dict[str, list[int]] = {}  # when each id was asked about

    def query_status(self, carrier_message_id: str, key: str) -> StatusReport | None:
        self.asked[carrier_message_id] += 1
        self.times.setdefault(carrier_message_id, []).append(self.clock())
        status = self.answers.get(carrier_message_id)
        if status is None:
            return None
        price = prices.total(self.price)  # as the adapters give it: positive
        return StatusReport(carrier_message_id, status, status, key, price=price, price_unit="USD" if price else "")


@contextmanager
def installed(
    store: Store, carrier: Carrier, rate: float, give_up_after: int = 72 * 3600, price_after: int = 0
) -> Iterator[list[dict[str, Any]]]:
    """The reconciler and apply_report wired to the stand-ins; yields the reconcile queue's bodies.
    ``price_after``: the carrier's ``SPEC.price_after`` (0: its price is not fetched)."""
    from b24sms.adapters import config
    from b24sms.usecases import reconcile, reconcile_price, status_updates

    queued: list[dict[str, Any]] = []
    fake_store = SimpleNamespace(now=store.now, messages=store, recon=store.recon_api, counters=store.counters_api)

    def enqueue_reconciles(bodies: list[dict[str, Any]]) -> int:
        queued.extend(bodies)
        store._req("sqs.SendMessageBatch")
        return 1

    fake_queues = SimpleNamespace(
        enqueue_reconciles=enqueue_reconciles,
        enqueue_push=lambda member_id, message_id, final=None: store._req("sqs.SendMessage"),
    )
    fake_carriers = SimpleNamespace(
        get_carrier=lambda name, config=None: carrier,
        status_query_rate=lambda name: rate,
        delivery_time=lambda name: DELIVERY_TIME,
        query_status=lambda adapter, cid, key: adapter.query_status(cid, key),
        price_after=lambda name: price_after,
    )
    with ExitStack() as stack:
        for module in (reconcile, status_updates):
            stack.enter_context(mock.patch.object(module, "store", fake_store))
            stack.enter_context(mock.patch.object(module, "queues", fake_queues))
        stack.enter_context(mock.patch.object(reconcile_price, "store", fake_store))
        stack.enter_context(mock.patch.object(status_updates, "price_after", lambda name: price_after))
        stack.enter_context(mock.patch.object(reconcile, "carriers", fake_carriers))
        stack.enter_context(mock.patch.object(config, "reconcile_give_up_after", lambda: give_up_after))
        yield queued


def run_sweeps(store: Store, queued: list[dict[str, Any]], until: int) -> int:
    """Sweep every five minutes until ``until`` (simulated), each queue message consumed at once."""

    sweeps = 0
    while store.now_s + SWEEP_EVERY <= until:
        store.now_s += SWEEP_EVERY
        sweep_and_drain(queued)
        sweeps += 1
    return sweeps


def sweep_and_drain(queued: list[dict[str, Any]]) -> None:
    """One sweep, and each account's queue message consumed at once."""
    from b24sms.usecases import reconcile

    reconcile.sweep()
    while queued:
        reconcile.check_account(queued.pop(0), sleep=lambda s: None)


def scenario(n: int, lost: float, answer: str | None, rate: float) -> dict[str, Any]:
    """``n`` SMS sent at once; the callbacks of a fraction ``lost`` never come; the carrier's query answers
    ``answer`` for those (None: the carrier has no query, ``rate`` 0)."""
    store = Store()
    lost_ids = {f"c{i}" for i in range(int(n * lost))}
    carrier = Carrier({cid: answer for cid in lost_ids} if answer else {})
    start = store.now_s
    with installed(store, carrier, rate) as queued:
        for i in range(n):
            store.sent("portal", f"m{i}", "sim", f"c{i}", DELIVERY_TIME)
        store.now_s += 60  # the callbacks that come, a minute later (the status route's own write)
        for i in range(n):
            if f"c{i}" not in lost_ids:
                store.advance_status("portal", f"m{i}", "delivered", 2, source="carrier:sim")
        callbacks = dict(store.requests)
        sweeps = run_sweeps(store, queued, start + HOURS * 3600)
    reconciler = {k: v - callbacks.get(k, 0) for k, v in store.requests.items() if v - callbacks.get(k, 0)}
    sweep_queries = sweeps * 8
    per_message = {k: v for k, v in reconciler.items()}
    per_message["dynamodb.Query"] = per_message.get("dynamodb.Query", 0) - sweep_queries
    final = Counter(m.status for m in store.items.values())
    return {
        "messages": n,
        "lost": len(lost_ids),
        "carrier_queries": sum(carrier.asked.values()),
        "max_queries_one_message": max(carrier.asked.values(), default=0),
        "requests_per_1000": {k: round(v * 1000 / n, 1) for k, v in sorted(per_message.items()) if v},
        "index_write_units_per_1000": round(store.index_writes * 1000 / n, 1),
        "sweep_queries_per_day": 8 * 86400 // SWEEP_EVERY,
        "final": dict(final),
        "left_in_index": len(store.recon),
    }


def measure(n: int = 1000) -> dict[str, Any]:
    return {
        "on_time": scenario(n, 0.0, "delivered", 10.0),
        "lost_5pct": scenario(n, 0.05, "delivered", 10.0),
        "lost_5pct_no_query": scenario(n, 0.05, None, 0.0),
        "stuck_all": scenario(n, 1.0, "sent", 10.0),
    }


def render(figures: dict[str, Any]) -> list[str]:
    lines = ["", "2b. reconciler: cost per 1,000 SMS over 73 simulated hours (sweep every 5 min; bench/reconcile_cost.py)"]
    for name, f in figures.items():
        reqs = ", ".join(f"{k} {v:g}" for k, v in f["requests_per_1000"].items()) or "none"
        lines.append(
            f"   {name:<19} lost {f['lost']:>4}  carrier queries {f['carrier_queries']:>5}"
            f" (at most {f['max_queries_one_message']} per SMS)  requests per 1,000: {reqs};"
            f" index write units {f['index_write_units_per_1000']:g};"
            f" final {f['final']}"
        )
    lines.append(f"   plus the sweep's own Queries, whatever is sent: 8 per run, {8 * 86400 // SWEEP_EVERY:,} a day")
    return lines


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    result = measure(n)
    print("\n".join(render(result)))
    print(json.dumps(result, indent=1))
