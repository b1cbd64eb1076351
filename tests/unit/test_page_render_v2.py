"""The page's second version rendered without a browser: the settings changes in the page's language
(no raw field names like ``credentials=changed``), in both catalogues."""

from __future__ import annotations

import re

import pytest

from b24sms.adapters import store
from b24sms.domain import stats
from b24sms.domain.models import Portal
from b24sms.usecases import page
from b24sms.usecases.page_session import Session
from tests.unit.test_page_i18n import app_module

CHANGE = {"carrier": "twilio", "sender": "+15005550006", "country": "", "credentials": "changed"}


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "carrier: Twilio; country: —; credentials: changed; sender: +15005550006"),
        ("ru", "оператор: Twilio; страна: —; учётные данные: изменены; отправитель: +15005550006"),
    ],
)
def test_a_settings_change_reads_in_the_pages_language(lang: str, expected: str) -> None:
    now = 1_700_000_000
    data = page.PageData(
        session=Session("m", "1", True, lang, now + 3600), portal=Portal(member_id="m", client_endpoint="https://p/rest/"),
        carrier={"carrier": "", "sender": "", "default_country": "", "stored": "", "callback_url": ""},
        senders=[{"code": "b24sms", "name": "SMS", "carrier": "sandbox", "sender": "", "main": "1"}],
        log=[], cursor="", filters=store.message_log.LogFilter(), summary=stats.summarise({}, 30, now),
        opt_outs=[], openlines=[], carriers=("sandbox",),
        audit=[{"at": now, "user": "1", "name": "Anna Admin", "action": "carrier b24sms", "changes": CHANGE}],
    )  # fmt: skip
    body = app_module().VIEW.render("page.html", lang, data=data, token="t", admin=True).body
    row = re.search(r'<tr class="change">(.*?)</tr>', body, re.S)
    assert row and expected in row.group(1) and "Anna Admin" in row.group(1), row
    assert "credentials=" not in body
