"""The reconciler (usecases/reconcile.py) on in-memory stand-ins (bench/reconcile_cost.py): what is asked,
how often, what it costs, and how a message nobody can answer for ends."""

from __future__ import annotations

import itertools

from b24sms.usecases import reconcile
from bench import reconcile_cost
from bench.reconcile_cost import DELIVERY_TIME, SWEEP_EVERY, Carrier, Store, installed, run_sweeps, sweep_and_drain


def sent(store: Store, n: int, account: str = "") -> None:
    for i in range(n):
        store.sent(f"portal{account}", f"m{account}{i}", "sim", f"c{account}{i}", DELIVERY_TIME)


def test_a_lost_callback_is_made_good_at_the_first_sweep_after_the_delivery_time_and_on_time_ones_are_never_asked():
    store = Store()
    carrier = Carrier({"c0": "delivered", "c1": "undelivered"}, store.now)
    start = store.now_s
    with installed(store, carrier, rate=10.0) as queued:
        sent(store, 3)
        store.advance_status("portal", "m2", "delivered", 2, source="carrier:sim")  # its callback came
        run_sweeps(store, queued, start + DELIVERY_TIME - 1)
        assert not carrier.asked  # not before its carrier's delivery time
        run_sweeps(store, queued, start + DELIVERY_TIME + SWEEP_EVERY)  # one interval
    assert store.items[("portal", "m0")].status == "delivered"
    assert store.items[("portal", "m1")].status == "undelivered"
    assert store.items[("portal", "m0")].history[-1]["source"] == "reconciler:sim"
    assert carrier.asked == {"c0": 1, "c1": 1}  # once each; m2 (final) never
    assert not store.recon  # final: out of the index


def test_never_more_than_one_query_per_message_per_interval_and_the_interval_grows():
    store = Store()
    carrier = Carrier({"c0": "sent"}, store.now)  # the carrier keeps it non-final
    start = store.now_s
    with installed(store, carrier, rate=10.0) as queued:
        sent(store, 1)
        store.now_s = start + DELIVERY_TIME
        for _ in range(5):  # sweeps invoked again and again within one interval ask nothing more
            sweep_and_drain(queued)
        assert carrier.asked["c0"] == 1
        run_sweeps(store, queued, start + 24 * 3600)
    times = carrier.times["c0"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[0] >= start + DELIVERY_TIME and gaps and min(gaps) >= DELIVERY_TIME
    assert gaps == sorted(gaps) and max(gaps) <= reconcile.MAX_INTERVAL + SWEEP_EVERY
    assert len(times) <= 10  # a day of a stuck message: a few queries, not one per sweep (288)


def test_nobody_to_ask_ends_undelivered_with_a_reason_after_the_give_up_age():
    store = Store()
    carrier = Carrier({}, store.now)
    start = store.now_s
    with installed(store, carrier, rate=0.0, give_up_after=72 * 3600) as queued:
        sent(store, 2)
        run_sweeps(store, queued, start + 71 * 3600)
        assert {m.status for m in store.items.values()} == {"sent"}
        before = store.requests.copy()
        run_sweeps(store, queued, start + 73 * 3600)
    assert {m.status for m in store.items.values()} == {"undelivered"}
    assert {m.error_code for m in store.items.values()} == {reconcile.GIVE_UP_CODE}
    assert not carrier.asked and not store.recon
    assert before["dynamodb.UpdateItem"] == 2  # one take each: parked until the give-up age


def test_a_sweep_queues_one_message_per_account_with_at_most_its_share():
    store = Store()
    with installed(store, Carrier({}), rate=10.0) as queued:
        sent(store, 150, "a")
        sent(store, 3, "b")  # two carrier accounts: b's messages were sent with its own credentials
        store.now_s += DELIVERY_TIME
        from unittest import mock

        from b24sms.adapters.store.recon import Due

        real_due = store.due

        def due(limit: int, at: int | None = None) -> list[Due]:
            return [d._replace(credentials="b-secret") if d.member_id == "portalb" else d for d in real_due(limit, at)]

        with mock.patch.object(store.recon_api, "due", due):
            done = reconcile.sweep()
    assert done["accounts"] == 2 and done["queued"] == reconcile.PER_ACCOUNT + 3 and done["deferred"] == 50
    sizes = sorted(len(body["messages"]) for body in queued)
    assert sizes == [3, reconcile.PER_ACCOUNT]


def test_the_bench_section_figures():
    figures = reconcile_cost.measure(200)
    assert figures["on_time"]["requests_per_1000"] == {}  # callbacks in time: no request of the reconciler's
    assert figures["lost_5pct"]["carrier_queries"] == 10 and figures["lost_5pct"]["max_queries_one_message"] == 1
    assert figures["lost_5pct_no_query"]["final"] == {"delivered": 190, "undelivered": 10}
    assert all(f["left_in_index"] == 0 for f in figures.values())
    assert "2b. reconciler" in "\n".join(reconcile_cost.render(figures))
