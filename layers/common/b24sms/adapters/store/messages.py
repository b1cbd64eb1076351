"""Messages in the ``MessagesTable``: recorded once, claimed by one dispatcher, moved forward only.

While a message waits to be sent it is also in the sparse index ``by-pending`` (shard, since), so a
message whose queue entry was lost can be found and queued again (usecases/recovery.py). Likewise,
while it holds a status the portal has not been given it is in the sparse index ``by-push-pending``
(``push_portal`` = the portal's member_id, ``push_since``): the write that advances the status puts it
there, the write that records the push takes it out. The push drains a portal's pending statuses from
it, 50 to a ``batch`` call, and a push whose queue entry was lost is found there and queued again.
"""

from __future__ import annotations

import time
import zlib
from typing import Any, NamedTuple

from b24sms.adapters.config import get_settings
from b24sms.adapters.store._table import batch_get_item, guarded, now, table
from b24sms.domain import statuses
from b24sms.domain.models import CarrierConfig, Message
from b24sms.domain.states import DispatchState
from b24sms.domain.stats import DAY_PREFIX


def _messages() -> Any:
    return table("messages_table")


PENDING_SHARDS = 8


def _pending_shard(message_id: str) -> str:
    return f"p{zlib.crc32(message_id.encode()) % PENDING_SHARDS}"


# Every message starts with the portal at `sent` (Message.pushed_rank): a status ranked no higher
# never needs a push, so it never enters ``by-push-pending`` (and costs no cleanup).
PUSHED_AT_START = statuses.rank(statuses.SENT)


def create_message(message: Message) -> bool:
    """Record a message once: False when this portal's message_id is already known.

    While a message waits to be sent it is also in the sparse index ``by-pending`` (shard, since), so
    a message whose queue entry was lost can be found and queued again (recovery.py)."""
    item = message.to_item()
    if message.dispatch_state == DispatchState.ACCEPTED:
        item["pending_shard"] = _pending_shard(message.message_id)
        item["pending_since"] = message.created_at or now()
    response = guarded(
        _messages().put_item,
        Item=item,
        ConditionExpression="attribute_not_exists(member_id)",
    )
    return response is not None


def get_message(member_id: str, message_id: str) -> Message | None:
    item = _messages().get_item(Key={"member_id": member_id, "message_id": message_id}, ConsistentRead=True).get("Item")
    return Message.from_item(item) if item else None


def get_messages(keys: list[tuple[str, str]]) -> dict[tuple[str, str], Message]:
    """Read many messages at once (BatchGetItem, 100 keys a call, unprocessed keys retried)."""
    found: dict[tuple[str, str], Message] = {}
    table_name = get_settings().messages_table
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 100):
        request: dict[str, Any] = {
            table_name: {
                "Keys": [{"member_id": m, "message_id": i} for m, i in unique[start : start + 100]],
                "ConsistentRead": True,
            }
        }
        for attempt in range(8):
            response = batch_get_item(request)
            for item in response.get("Responses", {}).get(table_name, []):
                msg = Message.from_item(item)
                found[(msg.member_id, msg.message_id)] = msg
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(0.05 * 2**attempt)
    return found


def find_key_by_carrier_id(carrier: str, carrier_message_id: str) -> tuple[str, str] | None:
    """(member_id, message_id) of the message the carrier knows by this id."""
    from boto3.dynamodb.conditions import Key  # cold start: boto3 loads at the first table call, not at import

    page = _messages().query(
        IndexName="by-carrier-ref",
        KeyConditionExpression=Key("carrier_ref").eq(f"{carrier}#{carrier_message_id}"),
        Limit=1,
    )
    items = page.get("Items", [])
    return (items[0]["member_id"], items[0]["message_id"]) if items else None


def claim_for_dispatch(member_id: str, message_id: str, lease_seconds: int) -> Message | None:
    """Take a message to send it: only one dispatcher can hold it; None if it is not waiting."""
    t = now()
    response = guarded(
        _messages().update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression=(
            "SET dispatch_state = :sending, lease_until = :until, attempts = attempts + :one, updated_at = :t "
            "REMOVE pending_shard, pending_since"
        ),
        ConditionExpression="dispatch_state = :accepted",
        ExpressionAttributeValues={
            ":sending": DispatchState.SENDING.value,
            ":accepted": DispatchState.ACCEPTED.value,
            ":until": t + lease_seconds,
            ":one": 1,
            ":t": t,
        },
        ReturnValues="ALL_NEW",
    )
    return Message.from_item(response["Attributes"]) if response is not None else None


def record_carrier_accepted(
    message: Message,
    carrier: str,
    carrier_message_id: str,
    carrier_status: str,
    *,
    to: str,
    encoding: str,
    segments: int,
    part_ids: tuple[str, ...] = (),
    config: CarrierConfig | None = None,
    price: str = "",
    price_unit: str = "",
) -> Message | None:
    """The carrier took the message: keep its id (callbacks find the message by it), the number as
    sent and the size, and drop the text. A carrier with one id per segment also gets each segment
    a slot in ``parts`` (receipts that came first are kept). Returns the record as it is now."""
    values: dict[str, Any] = {
        ":sent": DispatchState.SENT.value,
        ":c": carrier,
        ":cid": carrier_message_id,
        ":ref": f"{carrier}#{carrier_message_id}",
        ":cs": carrier_status,
        ":to": to,
        ":enc": encoding,
        ":seg": segments,
        ":t": now(),
    }
    names = {"#enc": "encoding", "#seg": "segments"}  # reserved words
    sets = (
        "dispatch_state = :sent, carrier = :c, carrier_message_id = :cid, carrier_ref = :ref, "
        "carrier_status = if_not_exists(carrier_status, :cs), sent_to = :to, #enc = :enc, #seg = :seg, updated_at = :t"
    )
    if config is not None and (config.sender or config.credentials):
        sets += ", carrier_sender = :snd, carrier_credentials = :cred"
        values[":snd"], values[":cred"] = config.sender, config.credentials
    if price:  # the send answer's price, in the same write
        sets += ", price = :price, price_unit = :unit"
        values[":price"], values[":unit"] = price, price_unit
    if part_ids:
        sets += ", parts_total = :pt"
        values[":pt"] = len(part_ids)
        values[":pending"] = {"s": carrier_status, "b": "", "r": 0}
        for i, part in enumerate(part_ids):
            names[f"#p{i}"] = part
            sets += f", parts.#p{i} = if_not_exists(parts.#p{i}, :pending)"
    # Conditional: a portal erased meanwhile (uninstall with CLEAN) must not get a stub record back.
    response = guarded(
        _messages().update_item,
        Key={"member_id": message.member_id, "message_id": message.message_id},
        ConditionExpression="attribute_exists(member_id)",
        UpdateExpression=f"SET {sets} REMOVE body, lease_until",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    return Message.from_item(response["Attributes"]) if response is not None else None


def record_part_status(member_id: str, message_id: str, part_id: str, carrier_status: str, status: str | None) -> Message | None:
    """One segment's receipt, kept only if it moves that segment forward; the record as it is now,
    or None when the message is unknown or the receipt is stale."""
    rank = statuses.rank(status) if status else 0
    response = guarded(
        _messages().update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression="SET parts.#p = :part, carrier_status = :cs, updated_at = :t",
        ConditionExpression="attribute_exists(member_id) AND attribute_exists(parts) AND "
        "(attribute_not_exists(parts.#p) OR parts.#p.r < :r)",
        ExpressionAttributeNames={"#p": part_id},
        ExpressionAttributeValues={
            ":part": {"s": carrier_status, "b": status or "", "r": rank},
            ":cs": carrier_status,
            ":t": now(),
            ":r": rank,
        },
        ReturnValues="ALL_NEW",
    )
    return Message.from_item(response["Attributes"]) if response is not None else None


def release_for_retry(message: Message, error_code: str, error_message: str, refund_attempt: bool = False) -> None:
    """Put a claimed message back to be sent again (``refund_attempt``: this try does not count)."""
    _messages().update_item(
        Key={"member_id": message.member_id, "message_id": message.message_id},
        UpdateExpression=(
            "SET dispatch_state = :accepted, error_code = :ec, error_message = :em, updated_at = :t, "
            "attempts = attempts - :refund, pending_shard = :shard, pending_since = :t REMOVE lease_until"
        ),
        ConditionExpression="dispatch_state = :sending",
        ExpressionAttributeValues={
            ":accepted": DispatchState.ACCEPTED.value,
            ":sending": DispatchState.SENDING.value,
            ":ec": error_code,
            ":em": error_message[:500],
            ":t": now(),
            ":refund": 1 if refund_attempt else 0,
            ":shard": _pending_shard(message.message_id),
        },
    )


def mark_outcome_unknown(message: Message) -> bool:
    """A dispatcher died holding the message: it will not be sent again; a callback may still come."""
    response = guarded(
        _messages().update_item,
        Key={"member_id": message.member_id, "message_id": message.message_id},
        UpdateExpression="SET dispatch_state = :unknown, updated_at = :t REMOVE lease_until",
        ConditionExpression="dispatch_state = :sending AND lease_until = :lease",
        ExpressionAttributeValues={
            ":unknown": DispatchState.UNKNOWN.value,
            ":sending": DispatchState.SENDING.value,
            ":lease": message.lease_until,
            ":t": now(),
        },
    )
    return response is not None


def advance_status(
    member_id: str,
    message_id: str,
    status: str,
    status_rank: int,
    *,
    source: str,
    carrier_status: str = "",
    error_code: str = "",
    error_message: str = "",
    dispatch_state: str = "",
    carrier_message_id: str = "",
    price: str = "",
    price_unit: str = "",
) -> Message | None:
    """Move a message's Bitrix24 status forward and return the record as it is now; None (and nothing
    written) if the message is unknown, the status is not forward, or ``carrier_message_id`` is given
    and the record already holds another one."""
    t = now()
    names = {"#s": "status"}
    values: dict[str, Any] = {
        ":s": status,
        ":r": status_rank,
        ":t": t,
        ":h": [{"status": status, "at": t, "source": source}],
        ":empty": [],
    }
    sets = ["#s = :s", "status_rank = :r", "updated_at = :t", "history = list_append(if_not_exists(history, :empty), :h)"]
    for attr, value in (
        ("carrier_status", carrier_status),
        ("error_code", error_code),
        ("error_message", error_message[:500]),
        ("dispatch_state", dispatch_state),
        ("price", price),  # a report's price rides the write of its status
        ("price_unit", price_unit if price else ""),
    ):
        if value:
            sets.append(f"{attr} = :{attr}")
            values[f":{attr}"] = value
    if status_rank > PUSHED_AT_START:  # the portal must be told: pending until mark_pushed catches up
        sets += ["push_portal = :pportal", "push_since = :t"]
        values[":pportal"] = member_id
    remove = ["push_tries"] if status_rank > PUSHED_AT_START else []
    if dispatch_state:
        remove += ["body", "lease_until", "pending_shard", "pending_since"]
    condition = "attribute_exists(member_id) AND status_rank < :r"
    if carrier_message_id:
        condition += " AND (attribute_not_exists(carrier_message_id) OR carrier_message_id = :cid)"
        values[":cid"] = carrier_message_id
    response = guarded(
        _messages().update_item,
        Key={"member_id": member_id, "message_id": message_id},
        UpdateExpression="SET " + ", ".join(sets) + (" REMOVE " + ", ".join(remove) if remove else ""),
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    return Message.from_item(response["Attributes"]) if response is not None else None


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


def delete_portal_messages(member_id: str) -> int:
    from boto3.dynamodb.conditions import Key  # cold start: boto3 loads at the first table call, not at import

    messages_table = _messages()
    deleted = 0
    kwargs: dict[str, Any] = {
        "KeyConditionExpression": Key("member_id").eq(member_id),
        "ProjectionExpression": "member_id, message_id",
    }
    with messages_table.batch_writer() as writer:
        while True:
            page = messages_table.query(**kwargs)
            for item in page.get("Items", []):
                writer.delete_item(Key={"member_id": item["member_id"], "message_id": item["message_id"]})
                deleted += 1
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return deleted


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


# -- day counters (the application page's statistics: domain/stats.py) --------------------------------
COUNTER_DAYS = 400


def add_day_counts(counts: dict[tuple[str, str], dict[str, int]]) -> int:
    """Add to each portal-day's counters: one ``ADD`` update per portal and day; returns the writes."""
    for (member_id, day), increments in counts.items():
        names = {f"#c{i}": name for i, name in enumerate(increments)}
        values: dict[str, Any] = {f":c{i}": value for i, value in enumerate(increments.values())}
        values[":e"] = now() + COUNTER_DAYS * 86400
        _messages().update_item(
            Key={"member_id": member_id, "message_id": f"{DAY_PREFIX}{day}"},
            UpdateExpression="ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(increments))) + " SET expires_at = :e",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    return len(counts)
