"""The page's parts merged for #20/#21 in a real browser, each in English and Russian: the held-account
banner, the cost in the log and the spend in the statistics, the delivery-alert threshold, routing and
fallback, quiet hours and the late-delivery-reports switch. Each asserts the words the user sees and that
a save reached the store (or that a bad value was refused and nothing was written)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import FrameLocator, Page, expect

from b24sms.adapters import store
from b24sms.domain import holds, stats
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import Message
from local.portal_emulator import EmulatedPortal, PortalEmulator
from tests.browser.test_app_page import TIMEOUT, open_app, seed_message

I18N = Path(__file__).resolve().parents[2] / "functions" / "app" / "i18n"
STRINGS = {lang: json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8")) for lang in ("en", "ru")}
LANGS = ["en", "ru"]


def t(lang: str, key: str, **values: str) -> str:
    text = str(STRINGS[lang][key])
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def stored(portal: EmulatedPortal) -> Any:
    record = store.portals.get_portal(portal.member_id)
    assert record is not None
    return record


def save(app: FrameLocator, form: str, action: str) -> Any:
    app.locator(f"#{form} button[data-action={action}]").click()
    return app.locator(f"#{form} .msg")


@pytest.mark.parametrize("lang", LANGS)
def test_a_held_account_shows_its_banner_above_the_carrier_settings(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    now = int(time.time())
    held = holds.AccountHold(holds.BALANCE, "TWILIO_20005", now - 120, now + 60)
    assert store.holds.hold(portal.member_id, holds.account_key("twilio", ""), held)
    app = open_app(page, emulator, portal, lang=lang)
    banner = app.locator(".account-held")
    expect(banner).to_have_count(1, timeout=TIMEOUT)
    expect(banner).to_contain_text(t(lang, "hold.balance"))
    expect(banner).to_contain_text("TWILIO_20005")
    expect(banner).to_contain_text(t(lang, "hold.what"))


@pytest.mark.parametrize("lang", LANGS)
def test_the_log_shows_each_sms_cost_and_the_statistics_the_spend(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    now = int(time.time())
    priced = []
    for i, price in enumerate(("0.0079", "0.0121")):
        seed_message(portal.member_id, f"cost-{i}", f"+1555060000{i}", "delivered", created_at=now - 60 + i,
                     price=price, price_unit="USD", segments=1)  # fmt: skip
        message = store.messages.get_message(portal.member_id, f"cost-{i}")
        assert message is not None
        priced.append(message)
    store.counters.add_day_counts(stats.tally(priced))  # as the push step counts final messages
    app = open_app(page, emulator, portal, lang=lang)
    expect(app.locator("#log-table th", has_text=t(lang, "log.cost"))).to_have_count(1, timeout=TIMEOUT)
    expect(app.locator("#log-table tr[data-id=cost-0] td.cost")).to_have_text("0.0079 USD")
    expect(app.locator("#log-table tr[data-id=cost-1] td.cost")).to_have_text("0.0121 USD")
    expect(app.locator("#total-cost")).to_have_text("0.0200 USD")
    expect(app.locator("#stats")).to_contain_text(t(lang, "stats.cost") + ": 0.0200 USD")
    expect(app.locator("#stats svg title").last).to_contain_text(f"{t(lang, 'stats.cost')} 0.0200 USD")  # today's bar
    row = app.locator("#by-sender tr", has=app.locator("code", has_text="b24sms"))
    expect(row.locator("td.cost")).to_have_text("0.0200 USD")


@pytest.mark.parametrize("lang", LANGS)
def test_admin_sets_the_delivery_alert_threshold_and_a_bad_one_is_refused(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    app = open_app(page, emulator, portal, lang=lang)
    expect(app.locator("#alerts h2")).to_have_text(t(lang, "alerts"))
    expect(app.locator("#alerts-state")).to_have_text(t(lang, "alerts.on", percent="80"))
    field = app.locator("#alerts-form input[name=delivery_alert]")
    field.fill("150")
    message = save(app, "alerts-form", "alerts-save")
    expect(message).to_have_class("msg bad", timeout=TIMEOUT)
    expect(message).to_contain_text(t(lang, "bad_delivery_alert"))
    assert stored(portal).delivery_alert == 80  # nothing written
    field.fill("65")
    save(app, "alerts-form", "alerts-save")
    expect(app.locator("#alerts-state")).to_have_text(t(lang, "alerts.on", percent="65"), timeout=TIMEOUT)
    assert stored(portal).delivery_alert == 65
    app.locator("#alerts-form input[name=delivery_alert]").fill("0")
    save(app, "alerts-form", "alerts-save")
    expect(app.locator("#alerts-state")).to_have_text(t(lang, "alerts.off"), timeout=TIMEOUT)
    assert stored(portal).delivery_alert == 0


@pytest.mark.parametrize("lang", LANGS)
def test_admin_saves_routing_and_a_fallback_and_a_bad_table_is_refused(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    app = open_app(page, emulator, portal, lang=lang)
    expect(app.locator("#routing h2")).to_have_text(t(lang, "routing"))
    expect(app.locator("#routing-now")).to_have_text(t(lang, "routing.default"))
    form = app.locator("#routing-form")
    form.locator("input[name=routes]").fill("+7 smsru")
    message = save(app, "routing-form", "routing-save")
    expect(message).to_have_class("msg bad", timeout=TIMEOUT)
    before, after = t(lang, "routing.bad_entry").split("{entry}")
    expect(message).to_contain_text(before + "'+7 smsru'")
    expect(message).to_contain_text(after.strip())
    expect(message).not_to_contain_text("fallback=vonage")  # the entry, never the domain's English reason
    assert stored(portal).routing == {}  # nothing written
    form.locator("input[name=routes]").fill("+7=smsru, *=twilio")
    form.locator("select[name=fallback]").select_option("smsru")
    smsru = form.locator("select[name=fallback] option[value=smsru]").inner_text().strip()
    save(app, "routing-form", "routing-save")
    expect(app.locator("#routing-now")).to_have_text("*=twilio, +7=smsru", timeout=TIMEOUT)
    expect(app.locator("#routing")).to_contain_text(f"{t(lang, 'routing.fallback')}: {smsru}")
    expect(app.locator("#routing-form select[name=fallback]")).to_have_value("smsru")
    assert stored(portal).routing == {"+7": "smsru", "*": "twilio", "fallback": "smsru"}


@pytest.mark.parametrize("lang", LANGS)
def test_the_log_says_an_sms_went_by_the_fallback_and_why(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    seed_message(portal.member_id, "fo-1", "+15550700001", "delivered", created_at=int(time.time()) - 60,
                 carrier="smsru", failover="TWILIO_21612 at twilio")  # fmt: skip
    app = open_app(page, emulator, portal, lang=lang)
    note = app.locator("#log-table tr[data-id=fo-1] .failover")
    expect(note).to_have_text(f"{t(lang, 'log.failover')} TWILIO_21612 at twilio", timeout=TIMEOUT)


@pytest.mark.parametrize("lang", LANGS)
def test_admin_sets_quiet_hours_and_a_bad_window_is_refused(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    app = open_app(page, emulator, portal, lang=lang)
    expect(app.locator("#quiet h2")).to_have_text(t(lang, "quiet"))
    expect(app.locator("#quiet-state")).to_have_text(t(lang, "quiet.off"))
    form = app.locator("#quiet-form")
    form.locator("select[name=quiet]").select_option("on")
    form.locator("input[name=start]").fill("22:00")
    form.locator("input[name=end]").fill("22:00")  # an empty window
    form.locator("input[name=zone]").fill("Europe/Moscow")
    message = save(app, "quiet-form", "quiet-save")
    expect(message).to_have_class("msg bad", timeout=TIMEOUT)
    expect(message).to_contain_text(t(lang, "bad_quiet_hours"))
    assert stored(portal).quiet_hours == {}  # nothing written
    form.locator("input[name=end]").fill("08:00")
    form.locator("input[name=zone]").fill("Mars/Olympus")
    save(app, "quiet-form", "quiet-save")
    expect(message).to_contain_text(t(lang, "bad_quiet_hours"), timeout=TIMEOUT)
    form.locator("input[name=zone]").fill("Europe/Moscow")
    form.locator("input[name=exempt]").fill("b24sms")
    save(app, "quiet-form", "quiet-save")
    expect(app.locator("#quiet-state")).to_have_text(t(lang, "quiet.on", start="22:00", end="08:00"), timeout=TIMEOUT)
    expect(app.locator("#quiet-form input[name=zone]")).to_have_value("Europe/Moscow")
    expect(app.locator("#quiet-form input[name=exempt]")).to_have_value("b24sms")
    setting = stored(portal).quiet_hours
    assert (setting["start"], setting["end"], setting["zone"]) == ("22:00", "08:00", "Europe/Moscow"), setting
    assert list(setting["exempt"]) == ["b24sms"], setting
    app.locator("#quiet-form select[name=quiet]").select_option("off")
    save(app, "quiet-form", "quiet-save")
    expect(app.locator("#quiet-state")).to_have_text(t(lang, "quiet.off"), timeout=TIMEOUT)
    assert stored(portal).quiet_hours == {}


@pytest.mark.parametrize("lang", LANGS)
def test_a_message_held_for_quiet_hours_shows_when_it_goes(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    now = int(time.time())
    wake = now - now % 86400 + 86400 + 5 * 3600  # 05:00 UTC tomorrow
    message = Message(
        member_id=portal.member_id, message_id="quiet-1", to="+15550800001", code="b24sms",
        status="queued", dispatch_state=DispatchState.ACCEPTED, created_at=now - 30, updated_at=now - 30,
    )  # fmt: skip
    assert store.messages.create_message(message)
    assert store.quiet.hold(portal.member_id, "quiet-1", wake)
    app = open_app(page, emulator, portal, lang=lang)
    timeline = app.locator("#log-table tr[data-id=quiet-1] td.timeline")
    expect(timeline).to_contain_text(f"{t(lang, 'status.held')} 05:00:00", timeout=TIMEOUT)


@pytest.mark.parametrize("lang", LANGS)
def test_admin_switches_late_delivery_reports_off_and_on(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    app = open_app(page, emulator, portal, lang=lang)
    expect(app.locator("#reconcile h2")).to_have_text(t(lang, "reconcile"))
    expect(app.locator("#reconcile-state")).to_contain_text(t(lang, "reconcile.on"))
    app.locator("#reconcile-form select[name=reconcile]").select_option("off")
    save(app, "reconcile-form", "reconcile-save")
    expect(app.locator("#reconcile-state")).to_have_text(t(lang, "reconcile.off"), timeout=TIMEOUT)
    expect(app.locator("#reconcile-form select[name=reconcile]")).to_have_value("off")
    assert stored(portal).reconcile == "off"
    app.locator("#reconcile-form select[name=reconcile]").select_option("on")
    save(app, "reconcile-form", "reconcile-save")
    expect(app.locator("#reconcile-state")).to_contain_text(t(lang, "reconcile.on"), timeout=TIMEOUT)
    assert stored(portal).reconcile == ""
