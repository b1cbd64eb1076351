"""The page's second version in a real browser, in both languages: the log's pager both ways with its
filters kept, the CSV export, the settings-changes list, every field error at once, 800 px, GET."""

from __future__ import annotations

import calendar
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from b24sms.adapters import store
from local.portal_emulator import EmulatedPortal, PortalEmulator
from tests.browser.test_app_page import TIMEOUT, open_app, seed_message

DAY = 86400


def day(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d"))


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_log_pages_older_and_newer_keeping_the_date_range(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    start = day("2026-03-10")
    for i in range(30):  # 30 in range (two pages), and newer ones the range leaves out
        seed_message(portal.member_id, f"in-{i:02d}", f"+155501{i:05d}", "delivered", created_at=start + 3600 + i * 60)
    for i in range(5):
        seed_message(portal.member_id, f"out-{i}", f"+155502{i:05d}", "delivered", created_at=start + 5 * DAY + i)
    app = open_app(page, emulator, portal, lang=lang)
    form = app.locator("#log-form")
    form.locator("input[name=since]").fill("2026-03-10")
    form.locator("input[name=until]").fill("2026-03-10")
    form.locator("button[type=submit]").click()
    rows = app.locator("#log-table tr.msg-row")
    expect(rows).to_have_count(25, timeout=TIMEOUT)
    expect(rows.first).to_have_attribute("data-id", "in-29")
    expect(app.locator("#log-newer")).to_have_count(0)
    app.locator("#log-older button").click()
    expect(rows).to_have_count(5, timeout=TIMEOUT)  # the rest of the range, not the 5 outside it
    expect(rows.first).to_have_attribute("data-id", "in-04")
    expect(app.locator("#log-older")).to_have_count(0)
    expect(app.locator("#log-form input[name=since]")).to_have_value("2026-03-10")
    app.locator("#log-newer button").click()
    expect(rows).to_have_count(25, timeout=TIMEOUT)
    expect(rows.first).to_have_attribute("data-id", "in-29")
    expect(app.locator("#log-newer")).to_have_count(0)


CSV_LANGS = [("en", "Time (UTC),Recipient", ",failed,"), ("ru", "Время (UTC),Получатель", ",ошибка,")]


@pytest.mark.parametrize(("lang", "header", "failed"), CSV_LANGS)
def test_the_filtered_log_downloads_as_csv_with_the_numbers_masked(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str, header: str, failed: str
) -> None:
    now = int(time.time())
    seed_message(portal.member_id, "csv-ok", "+15550300001", "delivered", created_at=now - 60)
    seed_message(portal.member_id, "csv-bad", "+15550300002", "failed", created_at=now - 30, error_code="SANDBOX_UNREACHABLE")
    app = open_app(page, emulator, portal, lang=lang)
    app.locator("#log-form select[name=status]").select_option("failed")
    with page.expect_download(timeout=TIMEOUT) as download:
        app.locator("#log-csv").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith(header), lines
    assert len(lines) == 2 and "SANDBOX_UNREACHABLE" in lines[1] and failed in lines[1], lines
    assert "15550300002" not in text and "******02" in lines[1] and "******01" not in text  # masked, filtered
    assert lines[1].split(",")[1].startswith("'+"), lines  # never read as a formula


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_page_fits_800_pixels_without_overflow(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    now = int(time.time())
    long_error = "The destination handset could not be reached after several attempts by the network " * 3
    seed_message(
        portal.member_id, "wide-1", "+15550400001", "failed", created_at=now - 60,
        error_code="SOME_VERY_LONG_CARRIER_ERROR_CODE_X", error_message=long_error,
        carrier="twilio", carrier_message_id="SM" + "0123456789abcdef" * 2, segments=3,
    )  # fmt: skip
    page.set_viewport_size({"width": 800, "height": 1200})
    open_app(page, emulator, portal, lang=lang)
    frame = page.frame(name="app")
    assert frame is not None
    width = frame.evaluate("document.documentElement.clientWidth")
    assert 0 < width <= 800
    wide = frame.evaluate(
        """() => {
            const edge = document.documentElement.clientWidth + 1;
            return [document.documentElement, ...document.querySelectorAll("section, form, table")]
                .filter(el => el.scrollWidth > el.clientWidth + 1 || el.getBoundingClientRect().right > edge)
                .map(el => (el.id || el.tagName) + ":" + el.scrollWidth + ">" + el.clientWidth);
        }"""
    )
    assert wide == [], wide


@pytest.mark.parametrize(("lang", "older"), [("en", "Older changes"), ("ru", "Более ранние изменения")])
def test_the_settings_changes_are_paged_name_who_and_leave_test_sms_out(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str, older: str
) -> None:
    for i in range(23):
        store.audit.record_audit(portal.member_id, "1", "sender added", {"code": f"b24sms_{i + 2}"})
    for _ in range(30):  # written by an older version: never listed
        store.audit.record_audit(portal.member_id, "1", "test SMS", {"to": "+1555***0100"})
    time.sleep(1.1)  # the change made on the page below is the newest
    app = open_app(page, emulator, portal, lang=lang)
    app.locator("#optout-form input[name=phone]").fill("+15550109999")
    app.locator("#optout-form button").click()  # a change made on the page names its author
    expect(app.locator("tr.optout")).to_have_count(1, timeout=TIMEOUT)  # the page reloaded
    changes = app.locator("#audit-table tr.change")
    expect(changes).to_have_count(20, timeout=TIMEOUT)
    expect(app.locator("#audit-table .who", has_text="Anna Admin")).to_have_text(["Anna Admin #1"])  # user 1's name
    expect(app.locator("#audit-older button")).to_have_text(older)
    app.locator("#audit-older button").click()
    expect(changes).to_have_count(4, timeout=TIMEOUT)  # 24 changes in all, no test SMS among them
    expect(app.locator("#audit-table")).not_to_contain_text("SMS")
    app.locator("#audit-newest button").click()
    expect(changes).to_have_count(20, timeout=TIMEOUT)


FIELD_ERRORS = [
    ("en", ["Account SID: ", "Auth token: fill it in.", "Default country for national numbers: XX is not a country code"]),
    ("ru", ["Account SID: ", "Auth token: заполните это поле.", "XX — не код страны"]),
]


@pytest.mark.parametrize(("lang", "sentences"), FIELD_ERRORS)
def test_save_names_every_wrong_field_at_once_by_its_label(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str, sentences: list[str]
) -> None:
    app = open_app(page, emulator, portal, lang=lang)
    form = app.locator("#carrier-form")
    form.locator("select[name=carrier]").select_option("twilio")
    form.locator("input[name=account_sid]").fill("AC123")
    form.locator("input[name=country]").fill("XX")
    form.locator("button[data-action=carrier-save]").click()
    message = form.locator(".msg")
    expect(message).to_have_class("msg bad", timeout=TIMEOUT)
    text = message.inner_text()
    assert all(s in text for s in sentences), text
    assert "account_sid" not in text and "auth_token" not in text, text  # labels, never the fields' names


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_times_and_days_are_the_users_time_zone_labelled(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    portal.users["1"] = {**portal.users["1"], "TIME_ZONE": "Europe/Moscow", "TIME_ZONE_OFFSET": "10800"}
    late = day("2026-03-10") + 22 * 3600 + 30 * 60  # 22:30 UTC: already 11 March in Moscow
    seed_message(portal.member_id, "tz-1", "+15550500001", "delivered", created_at=late)
    app = open_app(page, emulator, portal, lang=lang)
    form = app.locator("#log-form")
    form.locator("input[name=since]").fill("2026-03-11")
    form.locator("input[name=until]").fill("2026-03-11")
    form.locator("button[type=submit]").click()
    row = app.locator("#log-table tr.msg-row")
    expect(row).to_have_count(1, timeout=TIMEOUT)
    expect(row.locator("td").first).to_have_text("2026-03-11 01:30:00")
    expect(app.locator("#log-table th .tz")).to_have_text("(Europe/Moscow)")


def test_without_a_zone_the_times_are_utc_labelled_utc(page: Page, emulator: PortalEmulator, portal: EmulatedPortal) -> None:
    seed_message(portal.member_id, "tz-2", "+15550500002", "delivered", created_at=day("2026-03-10") + 3600)
    app = open_app(page, emulator, portal)
    expect(app.locator("#log-table th .tz")).to_have_text("(UTC)", timeout=TIMEOUT)
    expect(app.locator("#log-table tr.msg-row td").first).to_have_text("2026-03-10 01:00:00")


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_non_admin_sees_exactly_the_log_the_statistics_and_the_opt_outs(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, lang: str
) -> None:
    """What the README promises a user who is not an administrator: nothing of the settings."""
    store.audit.record_audit(portal.member_id, "1", "sender added", {"code": "b24sms_2"}, "Anna Admin")
    app = open_app(page, emulator, portal, user="2", lang=lang)
    expect(app.locator("#readonly")).to_be_visible()
    assert app.locator("section").evaluate_all("els => els.map(e => e.id)") == ["log", "stats", "optouts"]
    expect(app.locator("form button[data-action]")).to_have_count(0)
    expect(app.locator("#log-csv")).to_be_visible()  # reading the log is theirs, the export too
