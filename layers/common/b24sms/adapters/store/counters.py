"""The per-portal day counters of the ``MessagesTable`` (``~day#<day>`` items of the portal's partition,
``domain/stats.py``): added to as the push reports final statuses, read by the page's statistics."""

from __future__ import annotations

from typing import Any

from b24sms.adapters.store._table import now, table
from b24sms.domain.stats import DAY_PREFIX, day_of


def _messages() -> Any:
    return table("messages_table")


COUNTER_DAYS = 400


def add_day_counts(
    counts: dict[tuple[str, str], dict[str, int]], seen: dict[tuple[str, str], dict[str, int]] | None = None
) -> int:
    """Add to each portal-day's counters: one ``ADD`` update per portal and day; returns the writes.
    ``seen``: filled with each day's counters as they are after the ADD (its own answer: no read)."""
    for (member_id, day), increments in counts.items():
        names = {f"#c{i}": name for i, name in enumerate(increments)}
        values: dict[str, Any] = {f":c{i}": value for i, value in enumerate(increments.values())}
        values[":e"] = now() + COUNTER_DAYS * 86400
        answer = _messages().update_item(
            Key={"member_id": member_id, "message_id": f"{DAY_PREFIX}{day}"},
            UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(increments))) + " SET expires_at = :e",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW" if seen is not None else "NONE",
        )
        if seen is not None:
            item = answer.get("Attributes") or {}
            seen[(member_id, day)] = {k: int(v) for k, v in item.items() if k not in ("member_id", "message_id", "expires_at")}
    return len(counts)


def day_counters(member_id: str, days: int = 30) -> dict[str, dict[str, int]]:
    """Stored counters by day for the last ``days`` days: one Query."""
    from boto3.dynamodb.conditions import Key  # cold start: boto3 at the first query

    first = day_of(now() - 86400 * (days - 1))
    page = _messages().query(
        KeyConditionExpression=Key("member_id").eq(member_id)
        & Key("message_id").between(f"{DAY_PREFIX}{first}", f"{DAY_PREFIX}9")
    )
    out: dict[str, dict[str, int]] = {}
    for item in page.get("Items", []):
        day = str(item["message_id"])[len(DAY_PREFIX) :]
        out[day] = {k: int(v) for k, v in item.items() if k not in ("member_id", "message_id", "expires_at")}
    return out
