"""Statuses the portal has not been given yet: the sparse index ``by-push-pending`` of the
``MessagesTable`` (``push_portal`` = the portal's member_id, ``push_since``). ``messages.advance_status``
puts a message there; ``mark_pushed`` takes it out once the portal has its status. The push drains a
portal's pending statuses from it (``pending_for_portal``), and the recovery sweep finds and queues
again a push whose queue entry was lost (``unpushed``, ``retry_push_later``)."""

from __future__ import annotations

from typing import Any, NamedTuple

from b24sms.adapters.store._table import guarded, now, table
from b24sms.domain import bitrix_statuses
from b24sms.domain.models import Message


def _messages() -> Any:
    return table("messages_table")


# Every message starts with the portal at `sent` (Message.pushed_rank): a status ranked no higher
# never needs a push, so it never enters ``by-push-pending`` (and costs no cleanup).
PUSHED_AT_START = bitrix_statuses.rank(bitrix_statuses.SENT)


def mark_pushed(member_id: str, message_id: str, pushed_rank: int, note: str = "") -> bool:
    """Remember that the portal has seen this rank (or that it never will: ``note`` says why); False
    when it had already (a racing push won). ``pushed_rank`` only rises. When it reaches the stored
    status the message leaves ``by-push-pending`` in the same write; if the status moved on
    meanwhile, it stays pending (a second, rare write)."""
    values: dict[str, Any] = {":r": pushed_rank, ":t": now()}
    expression = "SET pushed_rank = :r, pushed_at = :t"
    if note:
        expression += ", push_note = :n"
        values[":n"] = note
    key = {"member_id": member_id, "message_id": message_id}
    caught_up = guarded(
        _messages().update_item,
        Key=key,
        UpdateExpression=expression + " REMOVE push_portal, push_since, push_tries",
        ConditionExpression="pushed_rank < :r AND status_rank <= :r",
        ExpressionAttributeValues=values,
    )
    if caught_up is not None:
        return True
    return (
        guarded(
            _messages().update_item,
            Key=key,
            UpdateExpression=expression,
            ConditionExpression="pushed_rank < :r",
            ExpressionAttributeValues=values,
        )
        is not None
    )


class PushPending(NamedTuple):
    """A message in ``by-push-pending``: when it is due (``since``), how often it was queued again."""

    member_id: str
    message_id: str
    since: int
    tries: int
    status_rank: int
    pushed_rank: int


def unpushed(older_than: int, limit: int = 400, due_by: int | None = None) -> list[PushPending]:
    """Messages holding a status the portal has not been given for ``older_than`` seconds (due by
    ``due_by``, default now minus ``older_than``): at most ``limit``. A Scan of the sparse index: only
    statuses in flight are in it, so it costs what is pending, not what the table or the fleet holds."""
    from boto3.dynamodb.conditions import Attr  # cold start: boto3 loads at the first table call, not at import

    cutoff = (now() - older_than) if due_by is None else due_by
    found: list[PushPending] = []
    kwargs: dict[str, Any] = {
        "IndexName": "by-push-pending",
        "FilterExpression": Attr("push_since").lte(cutoff),
        "Limit": max(limit, 100),
    }
    for _ in range(50):  # pages read per sweep: bounded even when little of the index is due
        page = _messages().scan(**kwargs)
        for item in page.get("Items", []):
            found.append(
                PushPending(
                    str(item["member_id"]),
                    str(item["message_id"]),
                    int(item["push_since"]),
                    int(item.get("push_tries", 0)),
                    int(item.get("status_rank", 0)),
                    int(item.get("pushed_rank", PUSHED_AT_START)),
                )
            )
        if len(found) >= limit or "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found[:limit]


def pending_for_portal(member_id: str, limit: int = 500) -> tuple[list[Message], bool]:
    """The portal's messages holding a status it has not been given, oldest first, at most ``limit``
    (the index projects every attribute, so the push needs no other read), and whether more remain.
    The index is eventually consistent: a status written a moment ago may not be in it yet (its own
    queue record names it), one pushed a moment ago may still be (``pushed_rank`` is checked again by
    ``mark_pushed``'s condition)."""
    from boto3.dynamodb.conditions import Key  # cold start: boto3 loads at the first table call, not at import

    found: list[Message] = []
    kwargs: dict[str, Any] = {
        "IndexName": "by-push-pending",
        "KeyConditionExpression": Key("push_portal").eq(member_id),
        "Limit": min(limit, 500),
    }
    while True:
        page = _messages().query(**kwargs)
        found.extend(Message.from_item(item) for item in page.get("Items", []))
        more = "LastEvaluatedKey" in page
        if not more or len(found) >= limit:
            return found[:limit], more or len(found) > limit
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def retry_push_later(member_id: str, message_id: str, seen_since: int, next_due: int) -> bool:
    """Take a pending push for queueing again: due next at ``next_due``, one try more. False when
    another sweep took it, its status moved on, or the portal has it now."""
    response = guarded(
        _messages().update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression="SET push_since = :next ADD push_tries :one",
        ConditionExpression="push_since = :seen AND pushed_rank < status_rank",
        ExpressionAttributeValues={":next": next_due, ":seen": seen_since, ":one": 1},
    )
    return response is not None


def clear_push_pending(member_id: str, message_id: str) -> bool:
    """Take out of ``by-push-pending`` a message whose status the portal has (or was dropped)."""
    response = guarded(
        _messages().update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression="REMOVE push_portal, push_since, push_tries",
        ConditionExpression="attribute_exists(push_portal) AND pushed_rank >= status_rank",
    )
    return response is not None
