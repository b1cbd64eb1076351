"""What each SMS cost, end to end (issue #20 item 3): the sandbox's signed callback and Vonage's send
answer carry the price (as the real carriers do: no extra call); it lands on the message in the write
that records the status or the send, and the day counters of the portal sum it per currency and sender."""

from __future__ import annotations

from b24sms.adapters import store
from local.fakes.vonage import VonageFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from tests.conftest import final_status, wait_until
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
