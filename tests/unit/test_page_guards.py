"""Guards that no other test held (each was disabled by a one-line change and the suite stayed green):
the SNS topic accepts AWS SMS events only from this account, an opt-out is removed only by this
portal's HMAC reference, and the page deployed with the template's defaults may be framed only by
Bitrix24's cloud portals."""

from __future__ import annotations

from pathlib import Path

import pytest

from b24sms.adapters import store
from b24sms.api import page_view
from b24sms.domain.errors import NotFound
from b24sms.domain.models import Portal
from b24sms.usecases import page, page_session
from local.template import Template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> Template:
    return Template()


# -- SNS: only this account's AWS SMS events ---------------------------------------------------------
def test_the_sms_events_topic_takes_publishes_only_from_this_accounts_sms_service(template: Template) -> None:
    """Without ``aws:SourceAccount`` any AWS account's configuration set could publish delivery events
    (forged statuses) to our topic through the SMS service (the confused deputy)."""
    (policy,) = [
        r["Properties"]
        for r in template.of_type("AWS::SNS::TopicPolicy").values()
        if {"Ref": "SmsEventsTopic"} in r["Properties"]["Topics"]
    ]
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allows
    for statement in allows:
        assert statement["Principal"] == {"Service": "sms-voice.amazonaws.com"}, statement
        assert statement["Action"] in ("sns:Publish", ["sns:Publish"]), statement
        assert statement["Resource"] == {"Ref": "SmsEventsTopic"}, statement
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}, statement


# -- opt-outs: removed by this portal's reference, never by a guess ---------------------------------
@pytest.fixture
def opted_out(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Two portals' opt-out lists in memory; ``opt_in`` records what was removed."""
    monkeypatch.setenv("APP_SESSION_SECRET", "unit-test-secret")
    lists = {"m1": ["+15550100100", "+15550100101"], "m2": ["+15550100100"]}
    removed: list[str] = []
    monkeypatch.setattr(page.guard, "portal_of", lambda s: Portal(member_id=s.member_id, client_endpoint="https://p/rest/"))
    monkeypatch.setattr(store.chats, "opt_outs", lambda m: [{"phone": p, "at": 1, "source": "sms"} for p in lists[m]])
    monkeypatch.setattr(store.audit, "record_audit", lambda *a: None)
    monkeypatch.setattr(store.chats, "opt_in", lambda m, phone: removed.append(f"{m}:{phone}"))
    return {"removed": removed}


def session(member_id: str) -> page_session.Session:
    return page_session.verify(page_session.issue(member_id, "1", True))


def test_an_opt_out_is_removed_only_by_its_own_portals_reference(opted_out: dict[str, list[str]]) -> None:
    mine, other = session("m1"), session("m2")
    others_ref = page.opt_out_ref(other, "+15550100100")  # the same number opted out on another portal
    for ref in (others_ref, "0" * 24, "", "+15550100100", None, 7, page.opt_out_ref(mine, "+15550100100")[:-1] + "x"):
        with pytest.raises(NotFound):
            page.remove_opt_out(mine, ref)
    assert opted_out["removed"] == []
    page.remove_opt_out(mine, page.opt_out_ref(mine, "+15550100101"))
    assert opted_out["removed"] == ["m1:+15550100101"]


def test_a_reference_does_not_carry_the_number(opted_out: dict[str, list[str]]) -> None:
    ref = page.opt_out_ref(session("m1"), "+15550100100")
    assert len(ref) == 24 and "5550100100" not in ref and ref != page.opt_out_ref(session("m2"), "+15550100100")


# -- frame-ancestors: the deployed default -----------------------------------------------------------
def test_the_deployed_page_may_be_framed_only_by_bitrix24_cloud_portals(
    template: Template, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every other test sets APP_FRAME_ANCESTORS; a deployment with the template's defaults does not."""
    (app,) = [f for f in template.functions() if f.logical_id == "AppFunction"]
    assert app.environment["APP_FRAME_ANCESTORS"] == {"Ref": "AppFrameAncestors"}
    assert template.parameters["AppFrameAncestors"] == ""
    for deployed in ("", None):  # the template's empty default, or the variable absent
        if deployed is None:
            monkeypatch.delenv("APP_FRAME_ANCESTORS", raising=False)
        else:
            monkeypatch.setenv("APP_FRAME_ANCESTORS", deployed)
        csp = page_view.security_headers("n0nce")["Content-Security-Policy"]
        ancestors = csp.split("frame-ancestors", 1)[1].split(";")[0].split()
        assert "https://*.bitrix24.com" in ancestors and "https://*.bitrix24.ru" in ancestors
        assert all(a.startswith("https://*.bitrix24.") for a in ancestors), ancestors  # no *, no http:, no 'self'
