"""The page's CRM section in a browser, in both languages: whether the portal granted crm, and the
administrator switching delivered SMS on the timeline on and off (kept across a reload, audited)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from b24sms.adapters import store
from local.portal_emulator import EmulatedPortal, PortalEmulator
from tests.browser.test_app_page import TIMEOUT, open_app


def test_admin_switches_delivered_sms_on_the_crm_timeline(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, shot: Any
):
    app = open_app(page, emulator, portal)
    expect(app.locator("#crm h2")).to_have_text("CRM timeline")
    expect(app.locator("#crm-state")).to_contain_text("why an SMS failed")
    box = app.locator("#crm-form input[name=delivered]")
    expect(box).not_to_be_checked()
    box.check()
    app.locator("#crm-form button[data-action=crm-save]").click()
    expect(app.locator("#audit-table")).to_contain_text("CRM timeline setting", timeout=TIMEOUT)
    portal_record = store.portals.get_portal(portal.member_id)
    assert portal_record is not None and portal_record.timeline_delivered
    expect(app.locator("#crm-form input[name=delivered]")).to_be_checked()
    shot()


def test_the_crm_section_speaks_russian_and_says_when_crm_is_not_granted(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, shot: Any
):
    app = open_app(page, emulator, portal, lang="ru")
    expect(app.locator("#crm h2")).to_have_text("Таймлайн CRM")
    expect(app.locator("#crm-form label")).to_contain_text("Записывать в таймлайн и доставленные SMS")
    portal.scopes.discard("crm")
    store.portals.set_scope(portal.member_id, portal.scope)  # as ONAPPUPDATE records what the portal grants
    page.reload()
    app = open_app(page, emulator, portal, lang="ru")
    expect(app.locator("#crm-state")).to_contain_text("Портал не дал приложению право crm")
    shot()
