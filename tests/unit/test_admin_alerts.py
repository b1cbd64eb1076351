"""Admin alerts' texts and rules (issue #20 item 4): one TAG per cause, the portal's language with
English as the fallback, a link to the page, the delivery-rate rule with its minimum."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from b24sms.domain import alerts, holds, stats
from b24sms.domain.models import Message, Portal
from b24sms.usecases import admin_alerts, delivery_watch


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


def test_the_last_hour_is_this_hours_counts_and_the_previous_hours_share_of_the_window():
    at = 1_700_000_000 - 1_700_000_000 % 3600 + 15 * 60  # a quarter past the hour
    counts = {stats.hour_key(at, "f"): 10, stats.hour_key(at, "d"): 9, stats.hour_key(at - 3600, "f"): 40}
    assert stats.last_hour(counts, at) == (40, 9)  # 10 + 3/4 of 40; 9 + 0
    midnight = 1_700_000_000 - 1_700_000_000 % 86400 + 60
    assert stats.last_hour({stats.hour_key(midnight - 3600, "f"): 40}, midnight) == (0, 0)  # yesterday's item


def test_tally_counts_the_hour_of_the_final_status_in_the_same_add():
    at = 1_700_000_000.0
    finals = [Message("p", f"m{n}", status="delivered" if n % 2 else "failed", created_at=int(at)) for n in range(4)]
    [(_, counts)] = stats.tally(finals, now=at).items()
    assert counts[stats.hour_key(at, "f")] == 4 and counts[stats.hour_key(at, "d")] == 2


class Watched:
    def __init__(self, threshold: int = 80, open_: bool = False) -> None:
        self.portal = Portal("p", "https://p/rest/", delivery_alert=threshold, alerts={alerts.DELIVERY: 1} if open_ else {})
        self.reads = 0
        self.told: list[tuple[str, str, dict[str, object]]] = []

    def tell(self, what: str, cause: str, values: dict[str, object]) -> bool:
        self.told.append((what, cause, values))
        return True

    def get_portal(self, member_id: str) -> Portal:
        self.reads += 1
        return self.portal


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> Watched:
    w = Watched()
    monkeypatch.setattr(delivery_watch, "store", SimpleNamespace(portals=w))
    monkeypatch.setattr(admin_alerts, "raised", lambda m, c, **v: w.tell("raised", c, v))
    monkeypatch.setattr(admin_alerts, "cleared", lambda m, c, **v: w.tell("cleared", c, v))
    return w


def hour(at: float, final: int, delivered: int) -> dict[tuple[str, str], dict[str, int]]:
    return {("p", stats.day_of(at)): {stats.hour_key(at, "f"): final, stats.hour_key(at, "d"): delivered}}


AT = 1_700_000_000 - 1_700_000_000 % 3600 + 59 * 60  # the previous hour barely counts


def test_a_rate_below_the_threshold_tells_the_admins_once(watched: Watched):
    delivery_watch.watch(hour(AT, 19, 0), now=AT)  # too few to tell: not even the portal is read
    assert watched.reads == 0 and watched.told == []
    delivery_watch.watch(hour(AT, 20, 15), now=AT)
    assert watched.told == [("raised", alerts.DELIVERY, {"rate": 75, "threshold": 80})]
    watched.portal.alerts = {alerts.DELIVERY: 1}
    delivery_watch.watch(hour(AT, 21, 15), now=AT)  # still low, already told
    assert len(watched.told) == 1
    delivery_watch.watch(hour(AT, 40, 35), now=AT)
    assert watched.told[-1] == ("cleared", alerts.DELIVERY, {"threshold": 80})


def test_a_threshold_of_zero_never_tells(watched: Watched):
    watched.portal.delivery_alert = 0
    delivery_watch.watch(hour(AT, 50, 0), now=AT)
    assert watched.told == []


def test_an_alert_goes_to_the_installer_and_each_admin_seen_at_the_page_once():
    portal = Portal(member_id="m1", client_endpoint="https://x.bitrix24.com/rest/", admins={"7": 1, "1": 2, "12": 3})
    data = {"message": "SMS: the carrier refused our credentials", "tag": "b24sms.credentials"}
    calls = admin_alerts.notify_calls(portal, data, {0: {"ID": "1"}})
    assert [c[1]["USER_ID"] for c in calls] == ["1", "7", "12"]  # the installer first, nobody twice
    assert {c[0] for c in calls} == {"im.notify.system.add"} and {c[1]["TAG"] for c in calls} == {"b24sms.credentials"}
    # user.current failed to answer: the admins seen at the page are still told
    assert [c[1]["USER_ID"] for c in admin_alerts.notify_calls(portal, data, {})] == ["1", "7", "12"]
    assert admin_alerts.notify_calls(Portal(member_id="m2", client_endpoint="https://y/rest/"), data, {}) == []
