"""The page's audit log of settings changes: ``audit#<member_id>`` items of the ``ChatsTable``, newest
first, each kept ``AUDIT_DAYS`` days."""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

from b24sms.adapters.store._table import now, table

AUDIT_DAYS = 400


def _chats() -> Any:
    return table("chats_table")


def record_audit(member_id: str, user: str, action: str, changes: dict[str, str], name: str = "") -> None:
    """Who (the user's id and name) changed what, when: never a secret (callers pass masked values)."""
    at = now()
    item: dict[str, Any] = {
        "pk": f"audit#{member_id}",
        "sk": f"{at:012d}#{secrets.token_hex(4)}",
        "at": at,
        "user": user,
        "action": action,
        "changes": json.dumps(changes, ensure_ascii=False),
        "expires_at": at + AUDIT_DAYS * 86400,
    }
    if name:
        item["name"] = name
    _chats().put_item(Item=item)


# Lines that are not settings changes, written before they were left out: never listed.
NOT_CHANGES = ("test SMS",)
CURSOR = re.compile(r"\d{12}#[0-9a-f]{8}")
MAX_READS = 5  # queries per page of the list at most (skipped lines can leave a query short)


def is_cursor(cursor: str) -> bool:
    return CURSOR.fullmatch(cursor) is not None


def audit_page(member_id: str, limit: int = 20, cursor: str = "") -> tuple[list[dict[str, Any]], str]:
    """A page of the settings changes, newest first, and the cursor of the next (older) page ("" at the end)."""
    from boto3.dynamodb.conditions import Attr, Key  # cold start: boto3 at the first query

    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(f"audit#{member_id}"),
        "FilterExpression": Attr("action").ne(NOT_CHANGES[0]),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if cursor and is_cursor(cursor):
        kwargs["ExclusiveStartKey"] = {"pk": f"audit#{member_id}", "sk": cursor}
    found: list[dict[str, Any]] = []
    for _ in range(MAX_READS):
        page = _chats().query(**kwargs)
        for i in page.get("Items", []):
            found.append(
                {
                    "at": int(i["at"]),
                    "user": str(i["user"]),
                    "name": str(i.get("name", "")),
                    "action": str(i["action"]),
                    "changes": json.loads(str(i["changes"])),
                    "sk": str(i["sk"]),
                }
            )
            if len(found) == limit:
                return found, str(i["sk"])
        last = page.get("LastEvaluatedKey")
        if not last:
            return found, ""
        kwargs["ExclusiveStartKey"] = last
    return found, str(kwargs["ExclusiveStartKey"]["sk"])


def audit_log(member_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest settings changes."""
    return audit_page(member_id, limit)[0]
