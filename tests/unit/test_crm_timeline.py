"""Issue #20 items 1 and 2 in the layer, without a stack: the HANDLER call's bindings (bounded, bad
input refused), kept with the message; the timeline entries' texts in the portal's language; the number
only masked; the opt-out follow-up's entries from findbycomm's answer; nothing without the crm scope."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from b24sms.domain.errors import Invalid
from b24sms.domain.models import Message, Portal
from b24sms.usecases import accept, portal_jobs, timeline

FORM = {"message_id": "m1", "message_to": "+15550170001", "message_body": "Hi", "code": "b24sms"}


@pytest.fixture(autouse=True)
def settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accept, "get_settings", lambda: SimpleNamespace(sender_code="b24sms"))


def bound(*pairs: tuple[Any, Any]) -> dict[str, Any]:
    return FORM | {"bindings": [{"OWNER_TYPE_ID": t, "OWNER_ID": i} for t, i in pairs]}


def test_bindings_are_parsed_once_each_and_kept_with_the_message() -> None:
    sms = accept.parse_outgoing(bound(("3", "17"), ("2", "42"), ("3", "17")))
    assert sms.bindings == ((3, 17), (2, 42))
    assert accept.parse_outgoing(FORM).bindings == ()
    message = Message("p", "m1", bindings=[[3, 17], [2, 42]])
    stored = {k: ([[Decimal(a), Decimal(b)] for a, b in v] if k == "bindings" else v) for k, v in message.to_item().items()}
    assert Message.from_item(stored).bindings == [[3, 17], [2, 42]]
    assert "bindings" not in Message("p", "m2").to_item()  # no attribute for an SMS without bindings


@pytest.mark.parametrize(
    "form",
    [
        bound(*[("3", str(n)) for n in range(1, 12)]),  # more than MAX_BINDINGS
        bound(("3", "0")),
        bound(("3", "-1")),
        bound(("lead", "1")),
        bound(("3", "1" * 13)),
        FORM | {"bindings": "3:17"},
        FORM | {"bindings": [["3", "17"]]},
    ],
)
def test_bad_bindings_are_refused(form: dict[str, Any]) -> None:
    with pytest.raises(Invalid, match="bindings"):
        accept.parse_outgoing(form)


@pytest.fixture
def added(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []

    def add(member_id: str, job_id: str, calls: list[Any], **kw: Any) -> bool:
        jobs.append({"member_id": member_id, "job_id": job_id, "calls": calls, **kw})
        return True

    monkeypatch.setattr(portal_jobs, "add", add)
    return jobs


def portal(lang: str = "en", scope: str = "messageservice,crm") -> Portal:
    return Portal("p1", "https://p.example/rest/", lang=lang, scope=scope)


def failed(status: str = "undelivered", code: str = "OPTED_OUT") -> Message:
    return Message(
        "p1", "m1", to="+15550170001", sent_to="+15550170001", status=status, error_code=code, bindings=[[3, 17], [2, 42]]
    )


def test_a_failure_writes_one_entry_per_bound_item_with_its_reason_masked(added: list[dict[str, Any]]) -> None:
    assert timeline.ended(portal(), failed())
    [job] = added
    assert job["scope"] == "crm" and job["wake"] is False and job["job_id"] == "sms#m1#undelivered"
    entries = [params["fields"] for _, params in job["calls"]]
    assert [(f["entityTypeId"], f["entityId"]) for f in entries] == [(3, 17), (2, 42)]
    assert entries[0]["title"] == "SMS not delivered"
    assert entries[0]["text"] == "SMS to +155******01 from ?: OPTED_OUT, the recipient opted out (replied STOP)"


def test_russian_portals_get_russian_entries(added: list[dict[str, Any]]) -> None:
    timeline.ended(portal("ru"), failed("failed"))
    text = added[0]["calls"][0][1]["fields"]
    assert text["title"] == "SMS не отправлено" and "получатель отказался" in text["text"]
    timeline.opted(portal("ru"), "+15550170001", True, "twilio:STOP", "+15005550006")
    assert added[1]["data"]["text"].startswith("Отказался от SMS ")


def test_delivered_writes_only_when_asked_and_nothing_without_bindings_or_scope(added: list[dict[str, Any]]) -> None:
    assert not timeline.ended(portal(), failed("delivered"))
    assert timeline.ended(portal(), failed("delivered"), delivered_too=True)
    assert not timeline.ended(portal(), Message("p1", "m2", status="failed"))
    assert not timeline.ended(portal(scope="messageservice"), failed())
    assert not timeline.opted(portal(scope="messageservice"), "+15550170001", True, "page")
    assert len(added) == 1


def test_an_opt_out_looks_the_number_up_per_type_and_writes_on_each_item_found(added: list[dict[str, Any]]) -> None:
    assert timeline.opted(portal(), "+15550170001", True, "twilio:STOP", "+15005550006", at=0)
    [job] = added
    assert "+15550170001" not in job["job_id"]  # the job id is logged
    assert [p["entity_type"] for _, p in job["calls"]] == ["LEAD", "CONTACT", "COMPANY"]
    assert all(m == "crm.duplicate.findbycomm" and len(p["values"]) <= 20 for m, p in job["calls"])
    assert job["data"]["text"] == "Opted out of SMS on 1970-01-01 00:00 UTC: replied STOP to +15005550006"
    follow = portal_jobs.FOLLOW_UPS[job["then"]]
    calls = follow(portal(), job["data"], {0: {"LEAD": [5]}, 1: {"CONTACT": [7, 8]}, 2: []})
    assert [(p["fields"]["entityTypeId"], p["fields"]["entityId"]) for _, p in calls] == [(1, 5), (3, 7), (3, 8)]
