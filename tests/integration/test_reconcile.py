"""Issue #21 item 3 through the carrier fakes: a status callback the carrier never posted is made good by
the reconciler (ReconcileFunction's sweep, then ReconcileAccountFunction asking Twilio for the message's
resource) within one interval; one query per message per interval; a message whose final status came
in time is never asked about; one the carrier keeps non-final ends ``undelivered`` once too old."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from b24sms.adapters import config, store
from local.fakes.twilio import TwilioFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until


@pytest.fixture
def twilio(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioFake]:
    fake = TwilioFake().start()
    for name, value in {
        "CARRIER": "twilio",
        "TWILIO_ACCOUNT_SID": fake.account_sid,
        "TWILIO_AUTH_TOKEN": fake.auth_token,
        "TWILIO_FROM": "+15005550006",
        "TWILIO_API_BASE": fake.base_url,
        "RECONCILE_AFTER": "1",  # every message is due a second after the carrier took it
    }.items():
        monkeypatch.setenv(name, value)
    config.reset_settings()
    yield fake
    monkeypatch.undo()
    config.reset_settings()
    fake.stop()


def carrier_id(portal: EmulatedPortal, message_id: str) -> str:
    found = wait_until(lambda: (m := store.messages.get_message(portal.member_id, message_id)) and m.carrier_message_id)
    return str(found)


def raw(portal: EmulatedPortal, message_id: str) -> dict[str, object]:
    from b24sms.adapters.store._table import table

    key = {"member_id": portal.member_id, "message_id": message_id}
    return dict(table("messages_table").get_item(Key=key, ConsistentRead=True)["Item"])


def test_a_dropped_callback_is_reconciled_within_one_interval(
    portal: EmulatedPortal, emulator: PortalEmulator, twilio: TwilioFake, stack: LocalStack
):
    on_time, _ = emulator.send_sms(portal, "+15550170002", "its callback comes")
    assert final_status(portal, on_time) == "delivered"
    kept = raw(portal, on_time)  # the final status's own write kept it only for its price (SPEC.price_after)
    assert int(str(kept["recon_due"])) > store.now() + 500 and int(str(kept["status_rank"])) == 2
    twilio.drop_callbacks = True
    lost, _ = emulator.send_sms(portal, "+15550170001", "its callback is lost")
    lost_failed, _ = emulator.send_sms(portal, "+15550170013", "its callback is lost too")
    lost_sid, failed_sid = carrier_id(portal, lost), carrier_id(portal, lost_failed)
    time.sleep(1.5)
    assert portal.final_status(lost) == "sent" and portal.final_status(lost_failed) == "sent"  # nothing by itself

    swept = stack.invoke("ReconcileFunction", {})
    assert swept["queued"] >= 2
    assert final_status(portal, lost) == "delivered"
    assert final_status(portal, lost_failed) == "undelivered"
    message = store.messages.get_message(portal.member_id, lost_failed)
    assert message and message.error_code == "TWILIO_30003" and message.history[-1]["source"] == "reconciler:twilio"
    assert twilio.fetched.count(lost_sid) == 1 and twilio.fetched.count(failed_sid) == 1
    on_time_sid = carrier_id(portal, on_time)
    assert on_time_sid not in twilio.fetched  # its final status came in time: never asked about

    time.sleep(1.5)
    stack.invoke("ReconcileFunction", {})  # final messages left the index: not asked again
    time.sleep(0.5)
    assert twilio.fetched.count(lost_sid) == 1 and on_time_sid not in twilio.fetched


def test_one_query_per_interval_and_the_end_after_the_give_up_age(
    portal: EmulatedPortal, emulator: PortalEmulator, twilio: TwilioFake, stack: LocalStack, monkeypatch: pytest.MonkeyPatch
):
    twilio.drop_callbacks = True
    twilio.callback_statuses = ("sent",)  # Twilio's resource stays non-final
    message_id, _ = emulator.send_sms(portal, "+15550170003", "never delivered, never failed")
    sid = carrier_id(portal, message_id)
    time.sleep(1.5)
    stack.invoke("ReconcileFunction", {})
    wait_until(lambda: sid in twilio.fetched)
    time.sleep(0.5)
    for _ in range(3):  # due again only after its interval (at least two minutes): not asked again
        stack.invoke("ReconcileFunction", {})
    time.sleep(0.5)
    assert twilio.fetched.count(sid) == 1
    assert portal.final_status(message_id) == "sent"

    monkeypatch.setenv("RECONCILE_GIVE_UP_AFTER", "1")
    assert "recon_due" in raw(portal, message_id)
    from b24sms.adapters.store._table import table

    table("messages_table").update_item(  # its next interval has come
        Key={"member_id": portal.member_id, "message_id": message_id},
        UpdateExpression="SET recon_due = :t",
        ExpressionAttributeValues={":t": store.now() - 1},
    )
    stack.invoke("ReconcileFunction", {})
    assert final_status(portal, message_id) == "undelivered"
    assert twilio.fetched.count(sid) == 2  # asked once more, then given up
    ended = store.messages.get_message(portal.member_id, message_id)
    assert ended and ended.error_code == "RECONCILE_NO_FINAL_STATUS"


def test_the_page_turns_reconciliation_off_for_the_messages_sent_afterwards(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    from tests.integration.test_app_page_api import call, session_of

    page = emulator.open_app(portal).text
    assert 'id="reconcile-state" class="ok"' in page and "30 minutes after sending" in page
    token = session_of(emulator, portal)
    assert call(stack, token, "reconcile-save", reconcile="maybe").status_code == 400
    assert call(stack, token, "reconcile-save", reconcile="off").status_code == 200
    page = emulator.open_app(portal).text
    assert 'id="reconcile-state" class="warn"' in page, page[page.find('id="reconcile"') :][:1500]
    assert "late delivery reports: off" in page, page[page.find('id="audit"') :][:1500]  # audited
    message_id, _ = emulator.send_sms(portal, "+15550170004", "not reconciled")
    assert final_status(portal, message_id) == "delivered"
    wait_until(lambda: "carrier_message_id" in raw(portal, message_id))
    assert "recon_shard" not in raw(portal, message_id)  # never entered by-reconcile
    assert call(stack, token, "reconcile-save", reconcile="on").status_code == 200
