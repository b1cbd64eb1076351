"""Admin alerts' texts and rules (issue #20 item 4): one TAG per cause, the portal's language with
English as the fallback, a link to the page, the delivery-rate rule with its minimum."""

from __future__ import annotations

import pytest

from b24sms.domain import alerts, holds


@pytest.mark.parametrize("cause", alerts.CAUSES)
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_cause_has_both_texts_in_both_languages(cause: str, lang: str):
    broken = alerts.message(cause, lang, False, "https://x/bitrix/app", code="C1", rate=42, threshold=80)
    fixed = alerts.message(cause, lang, True, "https://x/bitrix/app", threshold=80)
    assert broken != fixed and "[URL=https://x/bitrix/app]" in broken and "?" not in broken.split("[URL")[0]
    assert alerts.LINK[lang] in fixed


def test_one_tag_per_cause_and_english_for_an_unknown_language():
    assert len({alerts.tag(c) for c in alerts.CAUSES}) == len(alerts.CAUSES)
    assert alerts.message(holds.BALANCE, "de", False, "", code="SMSRU_201") == alerts.TEXTS["en"][holds.BALANCE][0].format(
        code="SMSRU_201"
    )


def test_the_delivery_rate_rule_needs_enough_messages():
    assert alerts.rate_breached(19, 0, 80) is None
    assert alerts.rate_breached(20, 15, 80) is True
    assert alerts.rate_breached(20, 16, 80) is False
    assert alerts.rate_breached(0, 0, 80, minimum=0) is None
