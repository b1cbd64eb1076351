"""Opt-outs and failures in the CRM as a portal administrator meets them (issue #20 items 1 and 2): a
STOP reply through the carrier's signed inbound webhook opts the number out of the portal it replied
to, whether or not the portal's SMS channel is connected to an Open Line; opt-outs and opt-ins are
written on the timeline of every CRM item with the number, once per event; an SMS that ends undelivered
or failed explains why on the items it was sent from; a portal without the crm scope loses nothing
else."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from b24sms.adapters import carriers, config, store
from b24sms.domain.privacy import mask_phone
from local.fakes.twilio import TwilioFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until
from tests.integration.test_app_page_api import call, session_of

OUR_NUMBER = "+15005550016"  # no other test's portal owns it: a reply to a portal's own number is that portal's


@pytest.fixture
def twilio(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioFake]:
    fake = TwilioFake().start()
    monkeypatch.setenv("CARRIER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", fake.account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", fake.auth_token)
    monkeypatch.setenv("TWILIO_FROM", OUR_NUMBER)
    monkeypatch.setenv("TWILIO_API_BASE", fake.base_url)
    config.reset_settings()
    yield fake
    monkeypatch.undo()
    config.reset_settings()
    fake.stop()


def test_stop_without_an_open_line_opts_the_number_out(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, twilio: TwilioFake
):
    customer = "+15550170001"
    assert not portal.active  # the SMS channel is connected to no Open Line
    first, _ = emulator.send_sms(portal, customer, "Your order has shipped")
    assert final_status(portal, first) == "delivered"
    assert [s.to for s in twilio.sent].count(customer) == 1

    answer = twilio.inbound(f"{stack.base_url}/carriers/twilio/inbound", customer, OUR_NUMBER, "STOP")
    assert answer.status_code == 200
    assert store.chats.is_opted_out(portal.member_id, customer)

    second, _ = emulator.send_sms(portal, customer, "Last chance: 20% off")
    assert final_status(portal, second) == "failed"
    assert [s.to for s in twilio.sent].count(customer) == 1  # the carrier never received the second SMS
    stored = store.messages.get_message(portal.member_id, second)
    assert stored and stored.error_code == "OPTED_OUT"

    # START opts it back in, also without a line.
    assert twilio.inbound(f"{stack.base_url}/carriers/twilio/inbound", customer, OUR_NUMBER, "start").status_code == 200
    assert not store.chats.is_opted_out(portal.member_id, customer)


def reason_en(code: str) -> str:
    return carriers.page_texts("en")[f"err.{code}"]


def texts(portal: EmulatedPortal, key: tuple[int, int]) -> list[str]:
    return [e["text"] for e in portal.crm_timeline(key)]


def test_stop_and_start_are_written_on_every_crm_item_with_the_number_once_per_event(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, twilio: TwilioFake
):
    customer = "+15550170002"
    contact = portal.add_crm_item("contact", "+1 555 017 0002")
    lead = portal.add_crm_item("lead", "(555) 017-0002")  # typed in national form
    company = portal.add_crm_item("company", "+15550179999")  # another number
    first, _ = emulator.send_sms(portal, customer, "Your order has shipped")
    assert final_status(portal, first) == "delivered"
    url = f"{stack.base_url}/carriers/twilio/inbound"
    assert twilio.inbound(url, customer, OUR_NUMBER, "STOP").status_code == 200
    wait_until(lambda: texts(portal, contact) and texts(portal, lead))
    [entry] = portal.crm_timeline(contact)
    assert entry["title"] == "SMS opt-out" and entry["iconCode"] == "info"
    assert entry["text"].startswith("Opted out of SMS on ") and entry["text"].endswith(f"replied STOP to {OUR_NUMBER}")
    assert texts(portal, lead) == [entry["text"]] and texts(portal, company) == []

    # STOP again (another SMS): already opted out, no second entry
    assert twilio.inbound(url, customer, OUR_NUMBER, "Stop").status_code == 200
    assert twilio.inbound(url, customer, OUR_NUMBER, "START").status_code == 200
    wait_until(lambda: len(texts(portal, contact)) == 2)
    assert texts(portal, contact)[1].startswith("Opted back in to SMS on ")
    time.sleep(1.5)  # nothing more comes
    assert len(texts(portal, contact)) == 2 and len(texts(portal, lead)) == 2
    # each findbycomm call had the number in the forms a user may have typed, at most 20 values
    finds = portal.calls_to("crm.duplicate.findbycomm")
    assert len(finds) == 6 and all(len(c.params["values"]) <= 20 for c in finds)
    assert {"+15550170002", "(555) 017-0002"} <= set(finds[0].params["values"])


def test_a_failed_sms_explains_why_on_the_items_it_was_sent_from(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, twilio: TwilioFake
):
    deal = portal.add_crm_item("contact", "+15550170013")
    gone = (2, 999_999)  # a deal deleted since: dropped with a log line, not retried
    message_id, _ = emulator.send_sms(portal, "+15550170013", "Your code is 1234", bindings=[deal, gone])
    assert final_status(portal, message_id) == "undelivered"
    wait_until(lambda: texts(portal, deal))
    [entry] = portal.crm_timeline(deal)
    assert entry["title"] == "SMS not delivered"
    masked = mask_phone("+15550170013")
    assert entry["text"] == f"SMS to {masked} from {OUR_NUMBER}: TWILIO_30003, " + reason_en("TWILIO_30003")
    assert "+15550170013" not in entry["text"]
    time.sleep(1.5)
    adds = [c for c in portal.calls_to("crm.timeline.logmessage.add") if c.params["fields"]["entityId"] == str(gone[1])]
    assert len(adds) == 1 and adds[0].error == "OWNER_NOT_FOUND"
    assert store.jobs.pending(portal.member_id, 10) == []


def test_a_delivered_sms_writes_nothing_and_a_portal_without_crm_loses_nothing_else(
    emulator: PortalEmulator, stack: LocalStack, twilio: TwilioFake
):
    portal = emulator.add_portal()
    portal.scopes.discard("crm")
    assert emulator.install(portal, f"{stack.base_url}/bitrix/install").status_code == 200
    item = portal.add_crm_item("contact", "+15550170099")
    ok, _ = emulator.send_sms(portal, "+15550170004", "Hello", bindings=[item])
    failed, _ = emulator.send_sms(portal, "+15550170099", "Hello", bindings=[item])
    assert final_status(portal, ok) == "delivered" and final_status(portal, failed) == "failed"
    assert twilio.inbound(f"{stack.base_url}/carriers/twilio/inbound", "+15550170004", OUR_NUMBER, "STOP").status_code == 200
    assert store.chats.is_opted_out(portal.member_id, "+15550170004")
    time.sleep(1.0)
    assert portal.calls_to("crm.duplicate.findbycomm") == [] and portal.calls_to("crm.timeline.logmessage.add") == []


def test_the_page_says_whether_crm_is_granted_and_switches_delivered_entries_on(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, twilio: TwilioFake
):
    page = emulator.open_app(portal)
    assert 'id="crm-state"' in page.text and "Opt-outs, opt-ins and why an SMS failed" in page.text
    token = session_of(emulator, portal)
    item = portal.add_crm_item("contact", "+15550170005")
    quiet, _ = emulator.send_sms(portal, "+15550170005", "Hello", bindings=[item])
    assert final_status(portal, quiet) == "delivered"
    assert call(stack, token, "crm-save", delivered="1").status_code == 200
    loud, _ = emulator.send_sms(portal, "+15550170005", "Hello again", bindings=[item])
    assert final_status(portal, loud) == "delivered"
    wait_until(lambda: texts(portal, item))
    assert texts(portal, item) == [f"SMS to {mask_phone('+15550170005')} from {OUR_NUMBER} delivered"]

    # an opt-out added by hand on the page reaches the timeline too
    assert call(stack, token, "optout-add", phone="+15550170005").status_code == 200
    wait_until(lambda: len(texts(portal, item)) == 2)
    assert "added by hand on the SMS app's page" in texts(portal, item)[1]
    # a user who is not an administrator may not change it
    assert call(stack, session_of(emulator, portal, "2"), "crm-save", delivered="").status_code == 403

    other = emulator.add_portal()
    other.scopes.discard("crm")
    assert emulator.install(other, f"{stack.base_url}/bitrix/install").status_code == 200
    assert "did not grant the app the crm scope" in emulator.open_app(other).text


def test_a_carriers_opt_out_refusal_opts_out_and_says_so_on_the_timeline(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, twilio: TwilioFake
):
    contact = portal.add_crm_item("contact", "+15550170610")  # Twilio refuses ...0610 with 21610 (unsubscribed)
    message_id, _ = emulator.send_sms(portal, "+15550170610", "Hello", bindings=[contact])
    assert final_status(portal, message_id) == "failed"
    assert store.chats.is_opted_out(portal.member_id, "+15550170610")
    wait_until(lambda: len(texts(portal, contact)) == 2)
    entries = sorted(texts(portal, contact))
    assert entries[0].startswith("Opted out of SMS on ") and entries[0].endswith("(TWILIO_21610)")
    assert entries[1].endswith("TWILIO_21610, " + reason_en("TWILIO_21610"))
