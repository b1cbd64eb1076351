"""Issue #20 item 3 for carriers whose price comes only from their status query (``SPEC.price_after``:
Twilio, SMS.ru), on the reconciler's in-memory stand-ins (bench/reconcile_cost.py): the final status's
write keeps the message in ``by-reconcile`` for its price; one query then; the price is stored and added
to the message's day counters once, even when the query's answer is applied twice; a carrier with no
price yet is asked at most ``reconcile_price.TRIES`` times; a carrier whose price is not fetched is
never asked about a final message."""

from __future__ import annotations

from b24sms.adapters.carriers import StatusReport
from b24sms.domain import stats
from b24sms.usecases import reconcile, reconcile_price, status_updates
from bench.reconcile_cost import DELIVERY_TIME, Carrier, Store, installed, run_sweeps

PRICE_AFTER = 600


def delivered_on_time(store: Store, n: int) -> None:
    """``n`` SMS sent, each delivered by its callback (which carries no price) a minute later."""
    for i in range(n):
        store.sent("portal", f"m{i}", "sim", f"c{i}", DELIVERY_TIME)
    store.now_s += 60
    for i in range(n):
        report = StatusReport(f"c{i}", "delivered", "delivered", f"portal.m{i}")
        assert status_updates.apply_report("sim", report) == "advanced"


def cost(store: Store, name: str = "cost:USD") -> int:
    return sum(v for (member_id, day, counter), v in store.counted.items() if counter == name)


def test_the_price_is_fetched_once_after_the_final_status_and_counted_once():
    store = Store()
    carrier = Carrier({"c0": "delivered", "c1": "delivered"}, store.now, price="-0.00790")
    start = store.now_s
    with installed(store, carrier, rate=10.0, price_after=PRICE_AFTER) as queued:
        delivered_on_time(store, 2)
        assert set(store.recon) == {("portal", "m0"), ("portal", "m1")}  # kept in the index for the price
        run_sweeps(store, queued, start + 60 + PRICE_AFTER - 1)
        assert not carrier.asked  # not before the carrier has the price
        run_sweeps(store, queued, start + 24 * 3600)
    assert carrier.asked == {"c0": 1, "c1": 1}  # one query per message, then never again
    assert {m.price for m in store.items.values()} == {"0.0079"} and {m.price_unit for m in store.items.values()} == {"USD"}
    assert cost(store) == 2 * 7900 and cost(store, "s:-:cost:USD") == 2 * 7900  # millionths, on the sender's counter too
    day = stats.day_of(start)
    assert {d for (_, d, _) in store.counted} == {day}  # the message's own day
    assert not store.recon


def test_a_price_applied_twice_is_counted_once():
    store = Store()
    carrier = Carrier({"c0": "delivered"}, store.now, price="-0.00790")
    with installed(store, carrier, rate=10.0, price_after=PRICE_AFTER) as queued:
        delivered_on_time(store, 1)
        store.now_s += PRICE_AFTER
        reconcile.sweep()
        body = queued.pop(0)
        reconcile.check_account(body, sleep=lambda s: None)
        reconcile.check_account(body, sleep=lambda s: None)  # the queue delivered it twice
    assert carrier.asked["c0"] == 2 and cost(store) == 7900


def test_a_carrier_without_a_price_is_asked_at_most_tries_times():
    store = Store()
    carrier = Carrier({"c0": "delivered"}, store.now, price="")  # Twilio's price stays null
    start = store.now_s
    with installed(store, carrier, rate=10.0, price_after=PRICE_AFTER) as queued:
        delivered_on_time(store, 1)
        run_sweeps(store, queued, start + 72 * 3600)
    assert carrier.asked["c0"] == reconcile_price.TRIES
    assert not store.items[("portal", "m0")].price and not store.counted and not store.recon


def test_a_price_the_status_query_brings_with_the_final_status_needs_no_second_query():
    store = Store()
    carrier = Carrier({"c0": "delivered"}, store.now, price="-0.00790")
    start = store.now_s
    with installed(store, carrier, rate=10.0, price_after=PRICE_AFTER) as queued:
        store.sent("portal", "m0", "sim", "c0", DELIVERY_TIME)  # its callback is lost
        run_sweeps(store, queued, start + 24 * 3600)
    assert carrier.asked["c0"] == 1 and store.items[("portal", "m0")].price == "0.0079" and not store.recon


def test_a_carrier_whose_price_is_not_fetched_is_never_asked_about_a_final_message():
    store = Store()
    carrier = Carrier({"c0": "delivered"}, store.now, price="-0.00790")
    start = store.now_s
    with installed(store, carrier, rate=10.0, price_after=0) as queued:
        delivered_on_time(store, 1)
        assert not store.recon
        run_sweeps(store, queued, start + 24 * 3600)
    assert not carrier.asked and not store.items[("portal", "m0")].price
