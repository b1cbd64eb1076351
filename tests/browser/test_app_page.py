"""The application's page in a real browser (chromium through Playwright), opened the way a portal opens
it: the emulated portal's own page frames the app and POSTs the user's AUTH_ID into the iframe. Behind it
run the local stack, the portal emulator and the carrier fakes (Twilio's for Check and the test SMS)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from playwright.sync_api import FrameLocator, Page, expect

from b24sms.adapters import store
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import CarrierConfig, Message
from b24sms.usecases import page_session, portal_carriers
from local.fakes.twilio import TwilioFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status, wait_until

TIMEOUT = 20_000


@pytest.fixture(scope="module")
def twilio(stack: LocalStack) -> Iterator[TwilioFake]:
    fake = TwilioFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio_env(twilio: TwilioFake, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioFake]:
    monkeypatch.setenv("TWILIO_API_BASE", twilio.base_url)
    yield twilio


def open_app(page: Page, emulator: PortalEmulator, portal: EmulatedPortal, user: str = "1", lang: str = "en") -> FrameLocator:
    page.goto(emulator.app_frame_url(portal, user, lang))
    app = page.frame_locator("#app")
    expect(app.locator("h1")).to_be_visible(timeout=TIMEOUT)
    return app


def app_frame(page: Page) -> Any:
    frame = page.frame(name="app")
    assert frame is not None
    return frame


def api_from_page(page: Page, action: str, data: dict[str, str], token: str | None = None) -> tuple[int, dict[str, Any]]:
    """A call made by the page's own script context (same origin, as the page's code makes it)."""
    frame = app_frame(page)
    if token is None:
        token = frame.locator("#reload input[name=session]").get_attribute("value")
    result = frame.evaluate(
        """async ([action, data, token]) => {
            const r = await fetch(location.pathname.replace(/\\/$/, "") + "/api/" + action,
                {method: "POST", headers: {"X-B24sms-Session": token}, body: new URLSearchParams(data)});
            return [r.status, await r.json()];
        }""",
        [action, data, token],
    )
    return int(result[0]), dict(result[1])


def put_secret(stack: LocalStack, name: str, value: dict[str, str]) -> str:
    client = boto3.client("secretsmanager", endpoint_url=stack.aws_endpoint, region_name="us-east-1")
    return str(client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])


def seed_message(
    member_id: str, message_id: str, to: str, status: str, *, created_at: int, code: str = "b24sms", **extra: Any
) -> None:
    message = Message(
        member_id=member_id,
        message_id=message_id,
        to=to,
        code=code,
        status=status,
        status_rank=2 if status in ("delivered", "undelivered", "failed") else 1,
        dispatch_state=DispatchState.SENT,
        created_at=created_at,
        updated_at=created_at,
        history=[
            {"status": "sent", "at": created_at + 1, "source": "carrier"},
            {"status": status, "at": created_at + 5, "source": "carrier"},
        ],
        **extra,
    )
    assert store.messages.create_message(message)


def test_admin_sets_twilio_check_refuses_a_wrong_token_then_a_test_sms_reaches_delivered(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, twilio_env: TwilioFake, shot: Any
):
    app = open_app(page, emulator, portal)
    form = app.locator("#carrier-form")
    form.locator("select[name=carrier]").select_option("twilio")
    form.locator("input[name=account_sid]").fill(twilio_env.account_sid)
    form.locator("input[name=auth_token]").fill("0" * 32)
    form.locator("input[name=sender]").fill("+15005550006")
    form.locator("button[data-action=carrier-check]").click()
    expect(form.locator(".msg")).to_have_text(re.compile("Twilio refused these credentials"), timeout=TIMEOUT)
    # Save with the wrong token: refused the same way, and nothing is stored.
    form.locator("button[data-action=carrier-save]").click()
    expect(form.locator(".msg")).to_have_text(re.compile("Twilio refused"), timeout=TIMEOUT)
    record = store.portals.get_portal(portal.member_id)
    assert record is not None and record.carrier_config == {}

    form.locator("input[name=auth_token]").fill(twilio_env.auth_token)
    form.locator("button[data-action=carrier-check]").click()
    expect(form.locator(".msg")).to_have_text("The carrier accepted these credentials.", timeout=TIMEOUT)
    form.locator("button[data-action=carrier-save]").click()
    expect(app.locator("#carrier-now")).to_have_text("Twilio", timeout=TIMEOUT)
    expect(app.locator("#stored")).to_contain_text(twilio_env.auth_token[-4:])
    assert twilio_env.auth_token not in app.locator("body").inner_html()  # write-only: at most the last 4
    record = store.portals.get_portal(portal.member_id)
    assert record and record.carrier_config["carrier"] == "twilio" and record.carrier_config["sender"] == "+15005550006"
    expect(app.locator("#audit-table")).to_contain_text("carrier b24sms")
    assert twilio_env.auth_token not in app.locator("#audit-table").inner_text()

    test = app.locator("#test-form")
    test.locator("input[name=to]").fill("+15550100001")
    test.locator("button[data-action=test-send]").click()
    expect(app.locator("#test-status")).to_have_attribute("data-status", "delivered", timeout=TIMEOUT)
    expect(app.locator("#test-status")).to_contain_text("delivered")
    assert [s.to for s in twilio_env.sent][-1] == "+15550100001"
    shot()


def test_sms_ru_shows_only_its_own_field_says_it_is_outbound_and_gives_the_url_for_its_panel(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, stack: LocalStack, monkeypatch: pytest.MonkeyPatch, shot: Any
):
    """The form is drawn from the carriers' declarations: SMS.ru's one field (api_id, write-only), its
    note that replies need a two-way carrier, no other carrier's fields sent; after Save the page shows
    the callback URL (with the portal's secret) to register in SMS.ru's panel."""
    from local.fakes.smsru import SmsRuFake

    fake = SmsRuFake().start()
    try:
        monkeypatch.setenv("SMSRU_API_BASE", fake.base_url)
        app = open_app(page, emulator, portal)
        form = app.locator("#carrier-form")
        form.locator("select[name=carrier]").select_option("smsru")
        expect(form.locator("label[data-for=smsru]")).to_have_count(1)
        expect(form.locator("input[name=api_id]")).to_have_attribute("type", "password")
        expect(form.locator("p[data-for=smsru]")).to_contain_text("replies need a two-way carrier")
        expect(form.locator("input[name=account_sid]")).to_be_hidden()
        form.locator("input[name=api_id]").fill(fake.api_id)
        form.locator("button[data-action=carrier-save]").click()
        expect(app.locator("#carrier-now")).to_have_text("SMS.ru", timeout=TIMEOUT)
        url = app.locator("#callback-url").inner_text()
        assert url.startswith(f"{stack.base_url}/carriers/smsru/status?portal={portal.member_id}&secret=")
        assert fake.api_id not in app.locator("body").inner_html()  # write-only: at most the last 4
        shot()
    finally:
        fake.stop()


def test_a_bad_test_number_gives_an_inline_error_and_sends_nothing(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, stack: LocalStack
):
    app = open_app(page, emulator, portal)
    test = app.locator("#test-form")
    test.locator("input[name=to]").fill("12")
    test.locator("button[data-action=test-send]").click()
    expect(test.locator(".msg")).to_have_text("Not a phone number we can send to.", timeout=TIMEOUT)
    country = app.locator("#carrier-form input[name=country]")
    country.fill("XX")
    app.locator("#carrier-form button[data-action=carrier-save]").click()
    expect(app.locator("#carrier-form .msg")).to_contain_text("XX is not a country code", timeout=TIMEOUT)
    record = store.portals.get_portal(portal.member_id)
    assert record is not None and record.carrier_config == {}


def test_admin_adds_a_second_sender_and_the_portal_has_it_registered(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, shot: Any
):
    app = open_app(page, emulator, portal)
    app.locator("#sender-form input[name=name]").fill("Support line")
    app.locator("#sender-form button[data-action=sender-add]").click()
    expect(app.locator("tr.sender[data-code=b24sms_2] td.name")).to_have_text("Support line", timeout=TIMEOUT)
    assert portal.senders["b24sms_2"]["NAME"] == {"en": "Support line", "de": "Support line", "ru": "Support line"}
    assert portal.senders["b24sms_2"]["HANDLER"] == portal.senders["b24sms"]["HANDLER"]
    # A CRM user picks it: the call carries its CODE and the SMS goes out with it.
    message_id, response = emulator.send_sms(portal, "+15550100002", "from the second sender", code="b24sms_2")
    assert response.status_code == 200, response.text
    assert final_status(portal, message_id) == "delivered"
    message = store.messages.get_message(portal.member_id, message_id)
    assert message is not None and message.code == "b24sms_2"
    # Renamed, then removed: the portal follows.
    row = app.locator("tr.sender[data-code=b24sms_2]")
    row.locator("input[name=name]").fill("Support")
    row.locator("button[data-action=sender-rename]").click()
    expect(app.locator("tr.sender[data-code=b24sms_2] td.name")).to_have_text("Support", timeout=TIMEOUT)
    assert portal.senders["b24sms_2"]["NAME"]["en"] == "Support"
    shot()
    app.locator("tr.sender[data-code=b24sms_2] button[data-action=sender-delete]").click()
    expect(app.locator("tr.sender[data-code=b24sms_2]")).to_have_count(0, timeout=TIMEOUT)
    assert "b24sms_2" not in portal.senders


def test_a_failed_message_is_found_by_the_last_digits_with_its_error_explained(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, stack: LocalStack, twilio_env: TwilioFake, shot: Any
):
    name = f"b24sms/{stack.template.parameters['Stage']}/{portal.member_id}/seed"  # the stage's prefix, as the page's role wants
    put_secret(stack, name, {"account_sid": twilio_env.account_sid, "auth_token": twilio_env.auth_token})
    portal_carriers.configure(portal.member_id, CarrierConfig("twilio", "+15005550006", "", name))
    sent = [emulator.send_sms(portal, to, "hello")[0] for to in ("+15550100013", "+15550104444", "+15550105555")]
    assert [final_status(portal, m) for m in sent] == ["undelivered", "delivered", "delivered"]

    app = open_app(page, emulator, portal)
    expect(app.locator("tr.msg-row")).to_have_count(3, timeout=TIMEOUT)
    app.locator("#log-form input[name=digits]").fill("0013")
    app.locator("#log-form button[type=submit]").click()
    rows = app.locator("tr.msg-row")
    expect(rows).to_have_count(1, timeout=TIMEOUT)
    row = rows.first
    expect(row.locator(".badge")).to_have_text("undelivered")
    expect(row.locator(".error code")).to_have_text("TWILIO_30003")
    expect(row.locator(".explain")).to_have_text("Unreachable handset: the phone is off or out of coverage.")
    expect(row.locator("td.to")).to_have_text("+155******13")  # masked
    expect(row.locator(".timeline")).to_contain_text("undelivered")
    shot()
    # By status: the two delivered ones.
    app.locator("#log-form input[name=digits]").fill("")
    app.locator("#log-form select[name=status]").select_option("delivered")
    app.locator("#log-form button[type=submit]").click()
    expect(app.locator("tr.msg-row")).to_have_count(2, timeout=TIMEOUT)


def test_the_chart_counts_match_the_seeded_history(page: Page, emulator: PortalEmulator, portal: EmulatedPortal, shot: Any):
    day = 86400
    now = time.time()
    days = [time.strftime("%Y-%m-%d", time.gmtime(now - back * day)) for back in (29, 3, 0)]
    store.counters.add_day_counts(
        {
            (portal.member_id, days[0]): {"sent": 4, "delivered": 4, "parts": 4, "s:b24sms:sent": 4, "s:b24sms:delivered": 4},
            (portal.member_id, days[1]): {"sent": 10, "delivered": 7, "undelivered": 2, "failed": 1, "parts": 12},
            (portal.member_id, days[2]): {"sent": 6, "delivered": 5, "failed": 1, "parts": 6},
        }
    )
    # A day outside the 30 shown does not count.
    store.counters.add_day_counts({(portal.member_id, time.strftime("%Y-%m-%d", time.gmtime(now - 40 * day))): {"sent": 99}})
    app = open_app(page, emulator, portal)
    bars = app.locator("#chart g.day")
    expect(bars).to_have_count(30)
    middle = app.locator(f'#chart g.day[data-day="{days[1]}"]')
    assert [middle.get_attribute(f"data-{k}") for k in ("sent", "delivered", "undelivered", "failed")] == ["10", "7", "2", "1"]
    assert app.locator(f'#chart g.day[data-day="{days[0]}"]').get_attribute("data-delivered") == "4"
    expect(app.locator("#total-sent")).to_have_text("20")
    expect(app.locator("#total-delivered")).to_have_text("16")
    expect(app.locator("#total-parts")).to_have_text("22")
    expect(app.locator("#rate")).to_have_text("80.0%")
    assert float(middle.locator(".bar-delivered").get_attribute("height") or 0) == pytest.approx(7 * 110 / 10)
    shot()


def test_the_counters_follow_real_sends(page: Page, emulator: PortalEmulator, portal: EmulatedPortal):
    """No seeding: three SMS through the pipeline, their final statuses counted by the push batches."""
    sent = [emulator.send_sms(portal, to, "count me")[0] for to in ("+15550100021", "+15550100022", "+15550100023")]
    assert all(final_status(portal, m) == "delivered" for m in sent)
    app = open_app(page, emulator, portal)
    wait_until(lambda: app.locator("#total-sent").inner_text() == "3" or page.reload() or False, timeout=20)
    expect(app.locator("#total-delivered")).to_have_text("3")


def test_admin_removes_an_opt_out_and_adds_one_by_hand(page: Page, emulator: PortalEmulator, portal: EmulatedPortal, shot: Any):
    store.chats.opt_out(portal.member_id, "+15550107777", "STOP")
    app = open_app(page, emulator, portal)
    rows = app.locator("#optouts tr.optout")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td.to")).to_have_text("+155******77")
    assert "+15550107777" not in app.locator("body").inner_html()
    shot()
    rows.first.locator("button[data-action=optout-remove]").click()
    expect(app.locator("#optouts-empty")).to_be_visible(timeout=TIMEOUT)
    assert not store.chats.is_opted_out(portal.member_id, "+15550107777")
    app.locator("#optout-form input[name=phone]").fill("+15550108888")
    app.locator("#optout-form button[data-action=optout-add]").click()
    expect(app.locator("#optouts tr.optout")).to_have_count(1, timeout=TIMEOUT)
    assert store.chats.is_opted_out(portal.member_id, "+15550108888")
    expect(app.locator("#audit-table")).to_contain_text("opt-out removed")


def test_a_non_admin_sees_no_controls_and_the_api_refuses_them(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, shot: Any
):
    app = open_app(page, emulator, portal, user="2")
    expect(app.locator("#readonly")).to_be_visible()
    expect(app.locator("#log")).to_be_visible()
    expect(app.locator("#chart")).to_be_visible()
    for control in ("#carrier-form", "#test-form", "#sender-form", "#optout-form", "button[data-action]"):
        expect(app.locator(control)).to_have_count(0)
    for action, data in (
        ("sender-add", {"name": "mine"}),
        ("carrier-save", {"carrier": "sandbox"}),
        ("optout-add", {"phone": "+15550101111"}),
    ):
        status, body = api_from_page(page, action, data)
        assert (status, body["error"]) == (403, "admin_only")
    assert "b24sms_2" not in portal.senders
    shot()


def test_a_forged_expired_or_other_portals_token_is_refused(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, stack: LocalStack
):
    open_app(page, emulator, portal)
    token = app_frame(page).locator("#reload input[name=session]").get_attribute("value")
    payload, signature = token.split(".")
    forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    expired = page_session.issue(portal.member_id, "1", True, now=time.time() - 7200)
    for bad in (f"{forged_payload}.{signature}", f"{payload}.{signature[:-1]}x", expired, "", "x" * 2000):
        status, body = api_from_page(page, "sender-add", {"name": "forged"}, token=bad)
        assert status == 401, (bad[:20], body)
    assert "b24sms_2" not in portal.senders
    # A token for another portal acts on that portal only; a portal uninstalled gets nothing.
    other = emulator.add_portal()
    emulator.install(other, f"{stack.base_url}/bitrix/install")
    emulator.uninstall(other)
    other_token = page_session.issue(other.member_id, "1", True)
    status, body = api_from_page(page, "sender-add", {"name": "x"}, token=other_token)
    assert (status, body["error"]) == (403, "not_installed")
    response = requests.post(f"{stack.base_url}/bitrix/app", data={"session": other_token}, timeout=10)
    assert response.status_code == 403 and "not installed" in response.text


def test_a_script_in_a_sender_name_or_a_message_field_stays_text(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, shot: Any
):
    evil = "<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>"
    app = open_app(page, emulator, portal)
    status, _ = api_from_page(page, "sender-add", {"name": evil[:50]})
    assert status == 200
    seed_message(
        portal.member_id,
        "evil1",
        "+15550109999",
        "failed",
        created_at=int(time.time()),
        error_code="<b>X</b>",
        error_message=evil,
    )
    app = open_app(page, emulator, portal)
    expect(app.locator("tr.sender[data-code=b24sms_2] td.name")).to_have_text(evil[:50])
    expect(app.locator("tr.msg-row .explain")).to_have_text(evil)
    expect(app.locator("tr.msg-row .error code")).to_have_text("<b>X</b>")
    assert app_frame(page).evaluate("window.__pwned") is None
    shot()


def test_the_page_speaks_russian_when_the_portal_does(page: Page, emulator: PortalEmulator, portal: EmulatedPortal, shot: Any):
    app = open_app(page, emulator, portal, lang="ru")
    expect(app.locator("h1")).to_have_text("SMS-провайдер")
    expect(app.locator("#openlines-state")).to_contain_text("Канал SMS")
    expect(app.locator("#log-form select[name=status] option[value=undelivered]")).to_have_text("не доставлено")
    # A test SMS the sandbox reports undelivered with a code no catalogue explains: statuses and the
    # code read in Russian, never a raw key (err.SANDBOX_UNREACHABLE).
    test = app.locator("#test-form")
    test.locator("input[name=to]").fill("+15550100013")
    test.locator("button[data-action=test-send]").click()
    status = app.locator("#test-status")
    expect(status).to_have_attribute("data-status", "undelivered", timeout=TIMEOUT)
    expect(status).to_have_text("в очереди → не доставлено — Ошибка SANDBOX_UNREACHABLE")
    # A refusal in Russian.
    form = app.locator("#sender-form")
    form.locator("input[name=name]").fill("Acme\u202etxt")
    form.locator("button[data-action=sender-add]").click()
    expect(form.locator(".msg")).to_have_text(re.compile("не должно содержать управляющих"), timeout=TIMEOUT)
    portal.fail_next(1, 403, "ACCESS_DENIED", "Access denied")  # the portal refuses: its code, in Russian words
    form.locator("input[name=name]").fill("Acme")
    form.locator("button[data-action=sender-add]").click()
    expect(form.locator(".msg")).to_have_text("Портал отказал в изменении (ACCESS_DENIED): попробуйте позже.", timeout=TIMEOUT)
    page.reload()
    app = open_app(page, emulator, portal, lang="ru")
    row = app.locator("tr.msg-row").first
    expect(row.locator(".badge")).to_have_text("не доставлено", timeout=TIMEOUT)
    expect(row.locator(".timeline")).to_contain_text("в очереди")
    expect(row).to_contain_text("тест с этой страницы")  # a test SMS is in the log, not among the settings changes
    expect(app.locator("#audit-table")).to_have_count(0)
    shot()


def test_csp_limits_framing_and_scripts(emulator: PortalEmulator, portal: EmulatedPortal):
    response = emulator.open_app(portal)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' http://127.0.0.1:*" in csp
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce and "unsafe-inline" not in csp
    scripts = re.findall(r"<script([^>]*)>", response.text)
    assert scripts and all(f'nonce="{nonce.group(1)}"' in s or 'type="application/json"' in s for s in scripts)


def test_an_installed_portal_opening_the_install_url_gets_the_page(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal, stack: LocalStack
):
    """A portal registered the old way (the install URL as the handler path): its "open" POST goes on to the page."""
    installs = len(portal.calls_to("messageservice.sender.add"))
    portal.app_url = f"{stack.base_url}/bitrix/install"
    app = open_app(page, emulator, portal)
    expect(app.locator("#carrier")).to_be_visible()
    assert len(portal.calls_to("messageservice.sender.add")) == installs  # not installed again
    assert len(portal.calls_to("user.current")) >= 1


def test_a_second_sender_gets_its_own_sender_id_and_its_sms_go_out_with_it(
    page: Page, emulator: PortalEmulator, portal: EmulatedPortal
):
    """Two senders: the main one and an alphanumeric ID; a handler call's CODE picks the settings."""
    app = open_app(page, emulator, portal)
    app.locator("#sender-form input[name=name]").fill("Shop")
    app.locator("#sender-form button[data-action=sender-add]").click()
    expect(app.locator("tr.sender[data-code=b24sms_2]")).to_have_count(1, timeout=TIMEOUT)
    form = app.locator("#carrier-form")
    form.locator("select[name=code]").select_option("b24sms_2")
    form.locator("select[name=carrier]").select_option("sandbox")
    form.locator("input[name=sender]").fill("AcmeShop")
    form.locator("button[data-action=carrier-save]").click()
    expect(app.locator("tr.sender[data-code=b24sms_2] td.uses")).to_contain_text("AcmeShop", timeout=TIMEOUT)
    expect(app.locator("tr.sender[data-code=b24sms] td.uses")).not_to_contain_text("AcmeShop")
    record = store.portals.get_portal(portal.member_id)
    assert record is not None and record.carrier_config == {}  # the main sender is untouched
    assert record.senders["b24sms_2"] == {"name": "Shop", "carrier": "sandbox", "sender": "AcmeShop"}
    assert record.carrier_for("b24sms_2") == CarrierConfig("sandbox", "AcmeShop")
    message_id, response = emulator.send_sms(portal, "+15550100031", "from the shop", code="b24sms_2")
    assert response.status_code == 200 and final_status(portal, message_id) == "delivered"
    sent = store.messages.get_message(portal.member_id, message_id)
    assert sent is not None and sent.carrier_sender == "AcmeShop"  # dispatched with the sender's own settings
