"""The reconciler's sparse index ``by-reconcile`` (``recon_shard``, ``recon_due``): the messages a
carrier took that have no final status yet, each due to be asked about at ``recon_due``.

It costs no write of its own in a message's normal life: the write that records the carrier's
answer to the send (``messages.record_carrier_accepted``) puts the message in, the write that
stores a final status (``messages.advance_status``) takes it out. Only a message still non-final when
it falls due costs writes: ``take`` (one per interval, conditional, so two sweeps never both ask),
and ``drop`` for one whose final status came before the send's answer was recorded.

A message of a carrier whose price comes only from its status query (``SPEC.price_after``) stays in
the index in the write that stores its final status, due when the carrier has the price: a final
``status_rank`` in the index means "only the price is wanted". ``record_price`` stores it and leaves.
"""

from __future__ import annotations

import zlib
from typing import Any, NamedTuple

from b24sms.adapters.store._table import guarded, now, table
from b24sms.domain import bitrix_statuses
from b24sms.domain.models import Message

SHARDS = 8
FINAL_RANK = bitrix_statuses.rank(bitrix_statuses.DELIVERED)  # the lowest final status
ENTER = "recon_shard = :rshard, recon_due = :rdue"  # an UpdateExpression SET clause, with enter_values
LEAVE = ("recon_shard", "recon_due", "recon_tries")  # what a final status REMOVEs


def _shard(message_id: str) -> str:
    return f"r{zlib.crc32(message_id.encode()) % SHARDS}"


def enter_values(message_id: str, after: int) -> dict[str, Any]:
    """The values of ``ENTER``: due ``after`` seconds from now."""
    return {":rshard": _shard(message_id), ":rdue": now() + after}


class Due(NamedTuple):
    """A message in ``by-reconcile`` whose time to be asked about has come (what the index projects)."""

    member_id: str
    message_id: str
    due: int
    tries: int
    carrier: str
    carrier_message_id: str
    sender: str
    credentials: str
    created_at: int
    status_rank: int


def due(limit: int, at: int | None = None) -> list[Due]:
    """Up to ``limit`` messages due by ``at`` (default now), oldest due first in each shard: one Query
    per shard (more only while a shard's page is full), never a Scan."""
    from boto3.dynamodb.conditions import Key  # cold start: boto3 loads at the first table call, not at import

    cutoff = now() if at is None else at
    per_shard = max(1, -(-limit // SHARDS))
    found: list[Due] = []
    for shard in range(SHARDS):
        page = table("messages_table").query(
            IndexName="by-reconcile",
            KeyConditionExpression=Key("recon_shard").eq(f"r{shard}") & Key("recon_due").lte(cutoff),
            Limit=per_shard,
        )
        found.extend(
            Due(
                str(item["member_id"]),
                str(item["message_id"]),
                int(item["recon_due"]),
                int(item.get("recon_tries", 0)),
                str(item.get("carrier", "")),
                str(item.get("carrier_message_id", "")),
                str(item.get("carrier_sender", "")),
                str(item.get("carrier_credentials", "")),
                int(item.get("created_at", 0)),
                int(item.get("status_rank", 0)),
            )
            for item in page.get("Items", [])
        )
    return found[:limit]


def take(member_id: str, message_id: str, seen_due: int, next_due: int) -> bool:
    """Take a due message to ask about it now, due again at ``next_due``: False when another sweep
    took it or it left the index (a final status)."""
    response = guarded(
        table("messages_table").update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression="SET recon_due = :next ADD recon_tries :one",
        ConditionExpression="recon_due = :seen",
        ExpressionAttributeValues={":next": next_due, ":seen": seen_due, ":one": 1},
    )
    return response is not None


def drop(member_id: str, message_id: str, seen_due: int) -> bool:
    """Take out of the index a message with nothing left to ask (its final status is stored)."""
    response = guarded(
        table("messages_table").update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression="REMOVE recon_shard, recon_due, recon_tries",
        ConditionExpression="recon_due = :seen",
        ExpressionAttributeValues={":seen": seen_due},
    )
    return response is not None


def record_price(member_id: str, message_id: str, price: str, price_unit: str) -> Message | None:
    """Store the price a status query found for a message with a final status and none yet, out of the
    index in the same write; the message as it is now, or None when it already had one (another run
    stored it: the day counters must not count it twice) or is not final."""
    response = guarded(
        table("messages_table").update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression="SET price = :price, price_unit = :unit REMOVE recon_shard, recon_due, recon_tries",
        ConditionExpression="attribute_exists(member_id) AND attribute_not_exists(price) AND status_rank >= :final",
        ExpressionAttributeValues={":price": price, ":unit": price_unit, ":final": FINAL_RANK},
        ReturnValues="ALL_NEW",
    )
    return Message.from_item(response["Attributes"]) if response is not None else None
