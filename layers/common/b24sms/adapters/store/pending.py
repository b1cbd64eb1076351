"""Messages waiting to be sent: the sparse index ``by-pending`` (``pending_shard``, ``pending_since``)
of the ``MessagesTable``. ``messages`` puts a message there when it is recorded or released for a retry
and takes it out when a dispatcher claims it; the recovery sweep finds one whose queue entry was lost
(``stale_pending``) and restarts its clock when it queues it again (``touch_pending``)."""

from __future__ import annotations

import zlib
from typing import Any

from b24sms.adapters.store._table import guarded, now, table
from b24sms.domain.dispatch_states import DispatchState


def _messages() -> Any:
    return table("messages_table")


PENDING_SHARDS = 8


def pending_shard(message_id: str) -> str:
    return f"p{zlib.crc32(message_id.encode()) % PENDING_SHARDS}"


def stale_pending(older_than: int, limit: int = 1000) -> list[tuple[str, str]]:
    """Messages still waiting to be sent after ``older_than`` seconds (their queue entry may be lost)."""
    from boto3.dynamodb.conditions import Key  # cold start: boto3 loads at the first table call, not at import

    cutoff = now() - older_than
    found: list[tuple[str, str]] = []
    for shard in range(PENDING_SHARDS):
        kwargs: dict[str, Any] = {
            "IndexName": "by-pending",
            "KeyConditionExpression": Key("pending_shard").eq(f"p{shard}") & Key("pending_since").lt(cutoff),
        }
        while len(found) < limit:
            page = _messages().query(**kwargs)
            found.extend((item["member_id"], item["message_id"]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found[:limit]


def touch_pending(member_id: str, message_id: str) -> bool:
    """Restart a waiting message's clock, so the next sweep leaves it alone; False if it moved on."""
    response = guarded(
        _messages().update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression="SET pending_since = :t",
        ConditionExpression="dispatch_state = :accepted AND attribute_exists(pending_shard)",
        ExpressionAttributeValues={":t": now(), ":accepted": DispatchState.ACCEPTED.value},
    )
    return response is not None
