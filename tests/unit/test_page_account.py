"""The page shows what issue #20 items 3 and 4 record: a held carrier account (why, since when, what to
do) in the carrier section, each SMS's cost in the log, and the spend in the statistics (total, per
day, per sender), in English and in Russian."""

from __future__ import annotations

import html
import re

import pytest

from b24sms.adapters import store
from b24sms.domain import holds, stats
from b24sms.domain.models import Message, Portal
from b24sms.usecases import page
from b24sms.usecases.page_session import Session
from tests.unit.test_page_i18n import app_module, catalogues

NOW = 1_700_000_000


def rendered(lang: str) -> str:
    priced = Message(
        member_id="m", message_id="x1", to="+15550100100", code="b24sms", status="delivered", created_at=NOW,
        segments=1, price="0.0079", price_unit="USD",
    )  # fmt: skip
    counts = stats.tally([priced])
    day = {k: v for (_, _), c in counts.items() for k, v in c.items()}
    portal = Portal(member_id="m", client_endpoint="https://p/rest/", domain="p.bitrix24.ru")
    portal.account_holds = {
        holds.account_key("twilio", ""): {"cause": holds.CREDENTIALS, "code": "TWILIO_20003", "since": NOW, "probe_at": NOW + 60}
    }
    data = page.PageData(
        session=Session("m", "1", True, lang, NOW + 3600),
        portal=portal,
        carrier={"carrier": "", "sender": "", "default_country": "", "stored": ""},
        senders=[{"code": "b24sms", "name": "SMS", "carrier": "sandbox", "sender": "", "main": "1"}],
        log=[page.log_row(priced)],
        cursor="",
        filters=store.message_log.LogFilter(),
        summary=stats.summarise({stats.day_of(NOW): day}, 30, NOW),
        opt_outs=[],
        openlines=[],
        audit=[],
        carriers=("sandbox",),
    )  # fmt: skip
    return str(app_module().VIEW.render("page.html", lang, data=data, token="t", admin=True).body)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_page_shows_the_hold_and_the_cost(lang: str):
    body, strings = rendered(lang), catalogues()[lang]
    held = re.search(r'<p class="note account-held"[^>]*>(.*?)</p>', body, re.S)
    text = html.unescape(held.group(1)) if held else ""
    assert strings["hold.credentials"] in text and "TWILIO_20003" in text and strings["hold.what"] in text
    assert re.search(r'<td class="cost">0\.0079 USD</td>', body)  # the log row
    assert re.search(r'<span id="total-cost">0\.0079 USD</span>', body)
    assert f"{strings['stats.cost']} 0.0079 USD" in body  # the day's bar
    assert re.search(r'<td class="cost">0\.0079 USD</td></tr>', body)  # by sender
    assert strings["log.cost"] in body


def test_every_hold_cause_has_a_sentence_in_both_languages():
    for strings in catalogues().values():
        assert all(strings.get(f"hold.{cause}") for cause in holds.CAUSES)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_page_shows_the_delivery_alert_threshold(lang: str):
    body, strings = rendered(lang), catalogues()[lang]
    state = re.search(r'<p id="alerts-state">(.*?)</p>', body, re.S)
    assert state and html.unescape(state.group(1)) == strings["alerts.on"].replace("{percent}", "80")
    assert re.search(r'<input name="delivery_alert"[^>]*value="80"', body)
