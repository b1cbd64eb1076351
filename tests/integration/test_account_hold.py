"""A carrier refusing the account (issue #20 item 4), end to end with Twilio's fake: with our token
refused (401, code 20003), three SMS cost one call at the carrier, not 3 x 5 tries; they wait unsent
with the reason on the record; the page's Check with the right token ends the hold, and each goes out
exactly once."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs

import pytest

from b24sms.adapters import config, store
from b24sms.usecases import admin_alerts
from local.fakes.twilio import TwilioFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until
from tests.integration.test_app_page_api import call, session_of
from tests.integration.test_twilio import fake, sent_to, twilio  # noqa: F401 (fixtures)

NUMBERS = ("+15550170301", "+15550170302", "+15550170303")


def test_refused_credentials_hold_the_sms_and_the_pages_check_sends_each_once(
    portal: EmulatedPortal,
    emulator: PortalEmulator,
    stack: LocalStack,
    twilio: TwilioFake,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("ACCOUNT_PROBE_SECONDS", "600")  # no probe within the test: only the Check can end the hold
    monkeypatch.setenv("ACCOUNT_RECHECK_SECONDS", "2")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-" + twilio.auth_token)
    config.reset_settings()
    calls: list[str] = []
    real = twilio.handle

    def counted(path: str, authorization: str, body: str) -> Any:
        # this test's SMS only: another test's message retried later may reach this deployment's fake too
        if path.endswith("/Messages.json") and parse_qs(body).get("To", [""])[0] in NUMBERS:
            calls.append(path)
        return real(path, authorization, body)

    monkeypatch.setattr(twilio, "handle", counted)

    first, _ = emulator.send_sms(portal, NUMBERS[0], "held 1")
    held = wait_until(lambda: (p := store.portals.get_portal(portal.member_id)) and p.account_holds)
    [hold] = held.values()
    assert hold["cause"] == "credentials" and hold["code"] == "TWILIO_20003"
    ids = [first] + [emulator.send_sms(portal, n, f"held {i}")[0] for i, n in enumerate(NUMBERS[1:], 2)]
    time.sleep(4)  # the two others met the hold (and looked again at least once)
    assert len(calls) == 1  # one call at the carrier for three SMS, not 15

    def waiting_unsent(message_id: str) -> bool:
        message = store.messages.get_message(portal.member_id, message_id)
        return bool(message and message.status == "queued" and message.attempts == 0 and not message.carrier_message_id)

    for message_id in ids:
        # A held message looks again every ACCOUNT_RECHECK_SECONDS: for a moment it is claimed (one attempt
        # counted) before it gives the claim and the attempt back; read between two looks.
        assert wait_until(lambda: waiting_unsent(message_id), timeout=5)  # noqa: B023 (used at once)
    assert store.messages.get_message(portal.member_id, first).error_code == "TWILIO_20003"  # type: ignore[union-attr]
    told = wait_until(lambda: [n for n in portal.notifications if n["TAG"] == "b24sms.credentials"])
    assert len(told) == 1 and told[0]["USER_ID"] == 1 and "TWILIO_20003" in told[0]["MESSAGE"]  # the installer, once

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", twilio.auth_token)  # the admin fixes the credentials
    token = session_of(emulator, portal)
    checked = call(
        stack, token, "carrier-check", carrier="twilio", account_sid=twilio.account_sid, auth_token=twilio.auth_token,
        sender="+15005550006",
    )  # fmt: skip
    assert checked.status_code == 200, checked.text
    assert store.portals.get_portal(portal.member_id).account_holds == {}  # type: ignore[union-attr]
    for message_id in ids:
        assert final_status(portal, message_id) == "delivered"
    assert [sent_to(twilio, n) for n in NUMBERS] == [1, 1, 1]  # each exactly once
    assert len(calls) == 4
    recovered = wait_until(lambda: [n for n in portal.notifications if "again" in n["MESSAGE"]])
    assert [n["TAG"] for n in portal.notifications] == ["b24sms.credentials"]  # the same TAG: replaced, not piled up
    assert recovered[0]["TAG"] == "b24sms.credentials"


def test_the_admin_sets_the_delivery_alert_threshold_on_the_page(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    token = session_of(emulator, portal)
    assert store.portals.get_portal(portal.member_id).delivery_alert == 80  # type: ignore[union-attr]
    saved = call(stack, token, "alerts-save", delivery_alert="90")
    assert saved.status_code == 200, saved.text
    assert store.portals.get_portal(portal.member_id).delivery_alert == 90  # type: ignore[union-attr]
    for bad in ("101", "-1", "ninety", ""):
        refused = call(stack, token, "alerts-save", delivery_alert=bad)
        assert refused.status_code == 400 and refused.json()["error"], bad
    assert store.portals.get_portal(portal.member_id).delivery_alert == 90  # type: ignore[union-attr]
    assert call(stack, session_of(emulator, portal, user="2"), "alerts-save", delivery_alert="0").status_code == 403


def test_a_delivery_rate_below_the_threshold_opens_the_alert_once(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    ids = [emulator.send_sms(portal, f"+1555{n:02d}10013", "unreachable")[0] for n in range(20)]  # the sandbox: undelivered
    for message_id in ids:
        assert final_status(portal, message_id, timeout=40) == "undelivered"
    opened = wait_until(lambda: (p := store.portals.get_portal(portal.member_id)) and p.alerts)
    assert set(opened) == {"delivery"}
    [told] = wait_until(lambda: portal.notifications)
    assert told["TAG"] == "b24sms.delivery" and "0%" in told["MESSAGE"] and "[URL=" in told["MESSAGE"]


def test_an_alert_reaches_every_admin_seen_at_the_page_and_a_demoted_one_no_more(
    portal: EmulatedPortal, emulator: PortalEmulator
):
    portal.users["5"] = {"ID": "5", "NAME": "Irina", "LAST_NAME": "Second", "ADMIN": True}
    session_of(emulator, portal, "5")  # a second administrator opens the application's page
    session_of(emulator, portal, "2")  # a manager (not an admin) is not kept
    assert set(store.portals.get_portal(portal.member_id).admins) == {"5"}  # type: ignore[union-attr]
    assert admin_alerts.raised(portal.member_id, "credentials", code="TWILIO_20003")
    told = wait_until(lambda: len(portal.notifications) >= 2 and portal.notifications)
    assert sorted(n["USER_ID"] for n in told) == [1, 5]  # the installer and the second admin, once each
    portal.users["5"]["ADMIN"] = False  # no longer an administrator: opening the page takes them off
    session_of(emulator, portal, "5")
    assert store.portals.get_portal(portal.member_id).admins == {}  # type: ignore[union-attr]
