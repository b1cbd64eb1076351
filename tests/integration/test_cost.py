"""What each SMS cost, end to end (issue #20 item 3): the sandbox's signed callback and Vonage's send
answer carry the price (as the real carriers do: no extra call); it lands on the message in the write
that records the status or the send, and the day counters of the portal sum it per currency and sender."""

from __future__ import annotations

from b24sms.adapters import store
from b24sms.adapters.carriers import StatusReport
from b24sms.adapters.store._table import table
from b24sms.usecases import reconcile_price
from local.fakes.twilio import TwilioFake
from local.fakes.vonage import VonageFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until
from tests.integration.test_reconcile import carrier_id, raw, twilio  # noqa: F401 (fixtures)
from tests.integration.test_vonage import LONG, fake, vonage  # noqa: F401 (fixtures)


def today_counters(member_id: str) -> dict[str, int]:
    counters = store.counters.day_counters(member_id, days=2)
    return {k: int(v) for day in counters.values() for k, v in day.items()}


def test_the_sandboxs_reported_price_is_kept_and_summed(portal: EmulatedPortal, emulator: PortalEmulator, stack):
    ids = [emulator.send_sms(portal, f"+1555013000{n}", "priced")[0] for n in (1, 2)]
    for message_id in ids:
        assert final_status(portal, message_id) == "delivered"
        stored = store.messages.get_message(portal.member_id, message_id)
        assert stored and (stored.price, stored.price_unit) == ("0.0079", "USD")
    counted = wait_until(lambda: (c := today_counters(portal.member_id)).get("sent") == 2 and c)
    assert counted["cost:USD"] == 15800 and counted["s:b24sms:cost:USD"] == 15800


def test_vonages_send_answer_price_per_segment_is_kept_and_summed(
    portal: EmulatedPortal,
    emulator: PortalEmulator,
    vonage: VonageFake,  # noqa: F811
):
    message_id, _ = emulator.send_sms(portal, "+1 555 013 0101", LONG)  # two segments, each priced
    assert final_status(portal, message_id) == "delivered"
    stored = store.messages.get_message(portal.member_id, message_id)
    assert stored and (stored.price, stored.price_unit) == ("0.0666", "EUR")
    counted = wait_until(lambda: (c := today_counters(portal.member_id)).get("sent") == 1 and c)
    assert counted["cost:EUR"] == 66600


def test_twilios_price_is_fetched_once_after_the_final_status_and_summed_once(
    portal: EmulatedPortal,
    emulator: PortalEmulator,
    stack: LocalStack,
    twilio: TwilioFake,  # noqa: F811
):
    """Twilio's callbacks carry no price: the final status's write keeps the message in by-reconcile,
    due after ``SPEC.price_after``; one reconcile run fetches the resource's price, stores and counts it;
    a repeated run asks nothing and counts nothing."""
    message_id, _ = emulator.send_sms(portal, "+15550170021", "priced later")
    assert final_status(portal, message_id) == "delivered"
    sid = carrier_id(portal, message_id)
    counted = wait_until(lambda: (c := today_counters(portal.member_id)).get("sent") == 1 and c)
    assert "cost:USD" not in counted and not store.messages.get_message(portal.member_id, message_id).price  # type: ignore[union-attr]
    kept = raw(portal, message_id)
    assert int(str(kept["recon_due"])) > store.now() + 500 and int(str(kept["status_rank"])) == 2  # due after price_after
    table("messages_table").update_item(  # its price delay has passed
        Key={"member_id": portal.member_id, "message_id": message_id},
        UpdateExpression="SET recon_due = :t",
        ExpressionAttributeValues={":t": store.now() - 1},
    )
    for _ in range(2):  # the run repeated: nothing more asked, nothing counted twice
        stack.invoke("ReconcileFunction", {})
        priced = wait_until(lambda: (m := store.messages.get_message(portal.member_id, message_id)) and m.price and m)
        assert (priced.price, priced.price_unit) == ("0.0079", "USD")
        wait_until(lambda: today_counters(portal.member_id).get("cost:USD"))
    assert twilio.fetched.count(sid) == 1
    again = StatusReport(sid, "delivered", "delivered", price="0.0079", price_unit="USD")  # a duplicate answer
    costs: dict[tuple[str, str], dict[str, int]] = {}
    assert not reconcile_price.record(portal.member_id, message_id, again, costs) and not costs  # not counted again
    counted = today_counters(portal.member_id)
    assert counted["cost:USD"] == 7900 and counted["s:b24sms:cost:USD"] == 7900
    assert "recon_due" not in raw(portal, message_id)  # out of the index with its price
