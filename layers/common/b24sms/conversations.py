"""DynamoDB storage of two-way SMS (the ``ChatsTable``, one table, items told apart by ``pk``):

- ``recipient#<phone>``: the portal that last texted this customer, so a reply finds its portal even
  on a number all portals share;
- ``optout#<member_id>`` / ``<phone>``: customers who sent STOP to this portal's messages;
- ``concat#<member_id>#<ref>``: the parts of a long inbound SMS seen so far, each kept once.

Every item expires (``expires_at``) except opt-outs, which last until the customer sends START.
"""

from __future__ import annotations

from typing import Any

from b24sms import aws
from b24sms.config import get_settings
from b24sms.storage import guarded, now

RECIPIENT_DAYS = 30
CONCAT_HOURS = 48


def _table() -> Any:
    return aws.dynamodb().Table(get_settings().chats_table)


def _enabled() -> bool:
    """Two-way SMS needs the table (a deployment without CHATS_TABLE only sends)."""
    return bool(get_settings().chats_table)


def remember_recipient(member_id: str, phone: str) -> None:
    if not _enabled():
        return
    _table().put_item(
        Item={
            "pk": f"recipient#{phone}",
            "sk": "-",
            "member_id": member_id,
            "at": now(),
            "expires_at": now() + RECIPIENT_DAYS * 86400,
        }
    )


def recipient_portal(phone: str) -> str:
    item = _table().get_item(Key={"pk": f"recipient#{phone}", "sk": "-"}).get("Item")
    return str(item["member_id"]) if item else ""


def opt_out(member_id: str, phone: str, source: str) -> None:
    if not _enabled():
        return
    _table().put_item(Item={"pk": f"optout#{member_id}", "sk": phone, "at": now(), "source": source})


def opt_in(member_id: str, phone: str) -> bool:
    response = guarded(
        _table().delete_item, Key={"pk": f"optout#{member_id}", "sk": phone}, ConditionExpression="attribute_exists(pk)"
    )
    return response is not None


def is_opted_out(member_id: str, phone: str) -> bool:
    if not _enabled():
        return False
    return "Item" in _table().get_item(Key={"pk": f"optout#{member_id}", "sk": phone}, ProjectionExpression="pk")


def add_part(member_id: str, ref: str, part: int, total: int, text: str) -> dict[int, str] | None:
    """Keep one part of a long inbound SMS; all parts seen so far (part number -> text), or None when
    this part was seen before (a duplicate changes nothing)."""
    key = {"pk": f"concat#{member_id}#{ref}", "sk": "-"}
    created = guarded(
        _table().put_item,
        Item={**key, "total": total, "parts": {str(part): text}, "expires_at": now() + CONCAT_HOURS * 3600},
        ConditionExpression="attribute_not_exists(pk)",
    )
    if created is not None:
        return {part: text}
    response = guarded(
        _table().update_item,
        Key=key,
        UpdateExpression="SET parts.#n = :t",
        ConditionExpression="attribute_not_exists(parts.#n)",
        ExpressionAttributeNames={"#n": str(part)},
        ExpressionAttributeValues={":t": text},
        ReturnValues="ALL_NEW",
    )
    if response is None:
        return None
    return {int(k): str(v) for k, v in response["Attributes"]["parts"].items()}
