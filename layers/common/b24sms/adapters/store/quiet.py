"""Messages held by quiet hours (usecases/quiet.py), in MessagesTable, and a portal's quiet-hours setting.

A held message stays ``accepted`` and gets ``quiet_portal`` (its portal) and ``quiet_until`` (when its
window opens): the sparse index ``by-quiet`` (KEYS_ONLY) lists a portal's held messages by wake time,
so the one wake-up per (portal, opening) finds them with a Query. Holding also moves ``pending_since``
to the wake time, so the recovery sweep (``by-pending``) leaves a held message alone until its window
has opened, and queues it then should the wake-up be lost: a backstop, not a poll. The dispatch claim
removes both attributes (store/messages.claim_for_dispatch).
"""

from __future__ import annotations

from typing import Any

from b24sms.adapters.store import portals
from b24sms.adapters.store._table import guarded, table
from b24sms.domain.dispatch_states import DispatchState

INDEX = "by-quiet"


def hold(member_id: str, message_id: str, wake_at: int) -> bool:
    """Mark a waiting message held until ``wake_at``; False when it is no longer waiting."""
    response = guarded(
        table("messages_table").update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression="SET quiet_portal = :m, quiet_until = :w, pending_since = :w",
        ConditionExpression="dispatch_state = :accepted AND attribute_exists(pending_shard)",
        ExpressionAttributeValues={":m": member_id, ":w": wake_at, ":accepted": DispatchState.ACCEPTED.value},
    )
    return response is not None


def due(member_id: str, until: int, limit: int) -> tuple[list[tuple[str, int]], bool]:
    """The portal's held messages whose window opened by ``until``: [(message_id, quiet_until)], and
    whether more are due than ``limit``."""
    from boto3.dynamodb.conditions import Key  # cold start: boto3 loads at the first table call, not at import

    page = table("messages_table").query(
        IndexName=INDEX,
        KeyConditionExpression=Key("quiet_portal").eq(member_id) & Key("quiet_until").lte(until),
        Limit=limit,
    )
    items = [(str(item["message_id"]), int(item["quiet_until"])) for item in page.get("Items", [])]
    return items, "LastEvaluatedKey" in page


def unhold(member_id: str, message_id: str, wake_at: int) -> bool:
    """Take a message out of ``by-quiet`` (it was queued to be sent); False when another release did."""
    response = guarded(
        table("messages_table").update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression="REMOVE quiet_portal, quiet_until",
        ConditionExpression="quiet_until = :w",
        ExpressionAttributeValues={":w": wake_at},
    )
    return response is not None


def set_quiet_hours(member_id: str, setting: dict[str, Any]) -> bool:
    """A portal's quiet hours (domain/quiet.QuietHours.to_item; {}: off)."""
    return portals.set_settings(member_id, quiet_hours=setting)
