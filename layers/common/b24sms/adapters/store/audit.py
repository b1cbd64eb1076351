"""The page's audit log of settings changes: ``audit#<member_id>`` items of the ``ChatsTable``, newest
first, each kept ``AUDIT_DAYS`` days."""

from __future__ import annotations

import json
import secrets
from typing import Any

from b24sms.adapters.store._table import now, table

AUDIT_DAYS = 400


def _chats() -> Any:
    return table("chats_table")


def record_audit(member_id: str, user: str, action: str, changes: dict[str, str]) -> None:
    """Who changed what, when: never a secret (callers pass masked values)."""
    at = now()
    _chats().put_item(
        Item={
            "pk": f"audit#{member_id}",
            "sk": f"{at:012d}#{secrets.token_hex(4)}",
            "at": at,
            "user": user,
            "action": action,
            "changes": json.dumps(changes, ensure_ascii=False),
            "expires_at": at + AUDIT_DAYS * 86400,
        }
    )


def audit_log(member_id: str, limit: int = 20) -> list[dict[str, Any]]:
    from boto3.dynamodb.conditions import Key  # cold start: boto3 at the first query

    page = _chats().query(KeyConditionExpression=Key("pk").eq(f"audit#{member_id}"), ScanIndexForward=False, Limit=limit)
    return [
        {"at": int(i["at"]), "user": str(i["user"]), "action": str(i["action"]), "changes": json.loads(str(i["changes"]))}
        for i in page.get("Items", [])
    ]
