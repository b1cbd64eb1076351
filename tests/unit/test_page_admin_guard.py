"""The page's one admin guard and one audit path (usecases/page/guard.py): every change an administrator
makes goes through ``@admin_action``, which refuses anyone else before the portal is even read, and
only ``Admin.audit`` writes the audit log."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from b24sms.adapters import store
from b24sms.domain.errors import Forbidden
from b24sms.usecases import page
from b24sms.usecases.page_session import Session

PAGE = Path(__file__).resolve().parents[2] / "layers" / "common" / "b24sms" / "usecases" / "page"
CHANGES: list[tuple[str, tuple[Any, ...]]] = [
    ("check", ("", page.CarrierForm("sandbox", "", "", {}))),
    ("save_carrier", (page.CarrierForm("sandbox", "", "", {}),)),
    ("send_test", ("+15550100100", "")),
    ("add_sender", ("Ops",)),
    ("rename_sender", ("b24sms_2", "Ops")),
    ("delete_sender", ("b24sms_2",)),
    ("add_opt_out", ("+15550100100",)),
    ("remove_opt_out", ("ref",)),
]


@pytest.mark.parametrize(("name", "args"), CHANGES, ids=[c[0] for c in CHANGES])
def test_a_change_refuses_a_non_administrator_before_reading_anything(
    name: str, args: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_read(*_: Any) -> Any:
        raise AssertionError("the portal was read for a non-administrator")

    monkeypatch.setattr(page.guard, "portal_of", no_read)
    monkeypatch.setattr(store.audit, "record_audit", no_read)
    with pytest.raises(Forbidden):
        getattr(page, name)(Session("m1", "7", False, "en", 0), *args)


def test_every_change_of_the_page_goes_through_the_one_guard_and_audit_path() -> None:
    """Outside guard.py no module of the page checks admin rights or writes the audit log itself, and
    every function that audits is an ``@admin_action``."""
    for module in PAGE.glob("*.py"):
        if module.name == "guard.py":
            continue
        text = module.read_text(encoding="utf-8")
        assert "require_admin" not in text and "record_audit" not in text, module.name
        for match in re.finditer(r"((?:@\w+\n)*)def (\w+)\(admin: Admin", text):
            assert "@admin_action" in match.group(1) or match.group(2).startswith("_"), (module.name, match.group(2))


def test_the_audit_line_names_the_user_from_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """The session carries the user's name (bounded: a long name in any script keeps the token valid)."""
    from b24sms.domain.models import CarrierConfig, Portal
    from b24sms.usecases import page_session

    monkeypatch.setenv("APP_SESSION_SECRET", "unit-test-secret")
    written: list[tuple[Any, ...]] = []
    portal = Portal(
        member_id="m1", client_endpoint="https://p/rest/", carrier_config=CarrierConfig("sandbox", "", "US", "").to_item()
    )
    monkeypatch.setattr(page.guard, "portal_of", lambda s: portal)
    monkeypatch.setattr(store.audit, "record_audit", lambda *a: written.append(a))
    monkeypatch.setattr(store.chats, "opt_out", lambda *a: None)
    token = page_session.issue("m1", "7", True, "ru", name="Анна-Мария " * 20)
    session = page_session.verify(token)
    assert len(token) <= page_session.MAX_TOKEN and session.name == ("Анна-Мария " * 20)[: page_session.MAX_NAME]
    page.add_opt_out(session, "+15550100100")
    assert written == [("m1", "7", "opt-out added", {"phone": "+155******00"}, session.name)]
