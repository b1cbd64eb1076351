"""The page's log shows which carrier sent a message and why it failed over, in English and Russian."""

from __future__ import annotations

import json

import pytest

from b24sms.adapters import store
from b24sms.domain import stats
from b24sms.domain.models import Message, Portal
from b24sms.usecases import page
from b24sms.usecases.page_session import Session
from tests.unit.test_page_i18n import APP, app_module


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_the_log_shows_the_fallback_and_why(lang: str):
    now = 1_700_000_000
    moved = Message(
        member_id="m", message_id="x1", to="+15550100100", code="b24sms", status="delivered", created_at=now,
        carrier="vonage", carrier_message_id="V1", failover="TWILIO_21612 at twilio (route)",
    )  # fmt: skip
    data = page.PageData(
        session=Session("m", "1", True, lang, now + 3600),
        portal=Portal(member_id="m", client_endpoint="https://p/rest/", domain="p.bitrix24.ru"),
        carrier={"carrier": "", "sender": "", "default_country": "", "stored": ""},
        senders=[{"code": "b24sms", "name": "SMS", "carrier": "sandbox", "sender": "", "main": "1"}],
        log=[page.log_row(moved)],
        cursor="",
        filters=store.message_log.LogFilter(),
        summary=stats.summarise({}, 30, now),
        opt_outs=[],
        openlines=[],
        audit=[],
        carriers=("sandbox",),
    )  # fmt: skip
    body = app_module().VIEW.render("page.html", lang, data=data, token="t", admin=True).body
    said = json.loads((APP / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))["log.failover"]
    assert f"{said} <code>TWILIO_21612 at twilio (route)</code>" in body
    assert "<code>vonage V1</code>" in body
