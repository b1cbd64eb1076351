"""The page's list of settings changes (the audit log ``Admin.audit`` writes): newest first, paged,
naming who made each change."""

from __future__ import annotations

from typing import Any

from b24sms.adapters import store


def parse_cursor(form: dict[str, Any]) -> str:
    """The posted page of the list ("" the newest; what is not a cursor is ignored)."""
    value = form.get("audit")
    cursor = value.strip() if isinstance(value, str) else ""
    return cursor if store.audit.is_cursor(cursor) else ""


def changes_page(member_id: str, cursor: str = "") -> tuple[list[dict[str, Any]], str]:
    """A page of settings changes and the cursor of the next, older one ("" when there is none)."""
    return store.audit.audit_page(member_id, 20, cursor)
