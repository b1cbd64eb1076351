"""The application page's session token (signed, bound, short-lived) and its statistics arithmetic."""

from __future__ import annotations

import pytest

from b24sms.domain import stats
from b24sms.domain.errors import Forbidden
from b24sms.domain.errors import NotAuthenticated as Unauthorized
from b24sms.domain.models import Message
from b24sms.usecases import page_session


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_SESSION_SECRET", "unit-test-secret")


def test_a_token_carries_portal_user_and_admin_flag_for_at_most_an_hour():
    token = page_session.issue("m1", "7", True, "ru", ttl=10 * 3600, now=1000)
    session = page_session.verify(token, now=1001)
    assert (session.member_id, session.user_id, session.admin, session.lang) == ("m1", "7", True, "ru")
    assert session.expires_at == 1000 + 3600
    with pytest.raises(Unauthorized):
        page_session.verify(token, now=1000 + 3600)


def test_a_changed_claim_or_another_deployments_key_is_refused(monkeypatch: pytest.MonkeyPatch):
    token = page_session.issue("m1", "7", False)
    payload, signature = token.split(".")
    as_admin = page_session._b64(page_session._unb64(payload).replace(b'"a":false', b'"a":true'))
    with pytest.raises(Unauthorized):
        page_session.verify(f"{as_admin}.{signature}")
    monkeypatch.setenv("APP_SESSION_SECRET", "another-deployment")
    with pytest.raises(Unauthorized):
        page_session.verify(token)
    for junk in ("", "a.b.c", "x" * 5000, "bm90IGpzb24.c2ln"):
        with pytest.raises(Unauthorized):
            page_session.verify(junk)


def test_only_an_admin_session_may_change_settings():
    page_session.verify(page_session.issue("m1", "1", True)).require_admin()
    with pytest.raises(Forbidden):
        page_session.verify(page_session.issue("m1", "2", False)).require_admin()


def message(member_id: str, status: str, created_at: int, code: str = "b24sms", segments: int = 1) -> Message:
    return Message(member_id=member_id, message_id="x", status=status, created_at=created_at, code=code, segments=segments)


def test_tally_groups_by_portal_and_day_and_counts_only_final_statuses():
    day1, day2 = 1_700_000_000, 1_700_000_000 + 86400
    counts = stats.tally(
        [
            message("a", "delivered", day1, segments=2),
            message("a", "failed", day1 + 60, code="b24sms_2"),
            message("a", "sent", day1),  # not final yet: counted later
            message("a", "undelivered", day2),
            message("b", "delivered", day1),
        ]
    )
    assert set(counts) == {("a", stats.day_of(day1)), ("a", stats.day_of(day2)), ("b", stats.day_of(day1))}
    first = counts[("a", stats.day_of(day1))]
    assert first["sent"] == 2 and first["delivered"] == 1 and first["failed"] == 1 and first["parts"] == 3
    assert first["s:b24sms_2:failed"] == 1 and first["s:b24sms:delivered"] == 1


def test_summary_covers_thirty_days_with_empty_ones_and_a_delivery_rate():
    today = 1_700_000_000
    stored = {stats.day_of(today): {"sent": 4, "delivered": 3, "failed": 1, "s:b24sms:sent": 4}, "2000-01-01": {"sent": 50}}
    summary = stats.summarise(stored, 30, today)
    assert len(summary.days) == 30 and summary.days[-1].day == stats.day_of(today)
    assert summary.totals.sent == 4 and summary.delivery_rate == 0.75
    assert summary.by_sender == {"b24sms": {"sent": 4}}
    assert stats.summarise({}, 30, today).delivery_rate is None


def test_the_pages_test_sms_never_reach_the_day_counters():
    day = 1_700_000_000
    test_sms = Message(member_id="a", message_id="test-0123456789abcdef", status="delivered", created_at=day, code="b24sms")
    assert stats.tally([test_sms]) == {}
    counted = stats.tally([test_sms, message("a", "failed", day)])
    assert counted[("a", stats.day_of(day))]["sent"] == 1 and "delivered" not in counted[("a", stats.day_of(day))]
