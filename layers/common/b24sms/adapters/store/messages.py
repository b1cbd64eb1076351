"""Messages in the ``MessagesTable``: recorded once, claimed by one dispatcher, moved forward only
(the writes of the dispatch lifecycle and of bitrix_statuses, and the reads by key).

While a message waits to be sent it is also in the sparse index ``by-pending`` (``pending.py``), so a
message whose queue entry was lost can be found and queued again (usecases/recovery.py). Likewise,
while it holds a status the portal has not been given it is in the sparse index ``by-push-pending``
(``pushes.py``): the write that advances the status puts it there, the write that records the push
(``pushes.mark_pushed``) takes it out. The page's log and day counters: ``message_log.py``, ``counters.py``.
"""

from __future__ import annotations

import time
from typing import Any

from b24sms.adapters.config import get_settings
from b24sms.adapters.store import recon
from b24sms.adapters.store._table import batch_get_item, conditional_failed, guarded, now, old_item, table
from b24sms.adapters.store.pending import pending_shard
from b24sms.adapters.store.pushes import PUSHED_AT_START
from b24sms.domain import bitrix_statuses
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import CarrierConfig, Message


def _messages() -> Any:
    return table("messages_table")


def create_message(message: Message) -> bool:
    """Record a message once: False when this portal's message_id is already known.

    While a message waits to be sent it is also in the sparse index ``by-pending`` (shard, since), so
    a message whose queue entry was lost can be found and queued again (recovery.py)."""
    item = message.to_item()
    if message.dispatch_state == DispatchState.ACCEPTED:
        item["pending_shard"] = pending_shard(message.message_id)
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


def get_messages(keys: list[tuple[str, str]], *, consistent: bool = True) -> dict[tuple[str, str], Message]:
    """Read many messages at once (BatchGetItem, 100 keys a call, unprocessed keys retried up to 8
    times; a key still unprocessed then, or not in the table, is left out). ``consistent=False``:
    eventually consistent reads, half the read units (the page's log: ``message_log.py``)."""
    found: dict[tuple[str, str], Message] = {}
    table_name = get_settings().messages_table
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 100):
        request: dict[str, Any] = {
            table_name: {
                "Keys": [{"member_id": m, "message_id": i} for m, i in unique[start : start + 100]],
                "ConsistentRead": consistent,
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


def claim(member_id: str, message_id: str, lease_seconds: int) -> tuple[Message | None, Message | None]:
    """Take a message to send it, in one conditional write with no read first: (the claimed record,
    None); when it is not waiting to be sent, (None, the record as it is), returned by the failed
    write itself; (None, None) when there is no such message. Only one dispatcher can hold it."""
    t = now()
    try:
        response = _messages().update_item(
            Key={"member_id": member_id, "message_id": message_id},
            UpdateExpression=(
                "SET dispatch_state = :sending, lease_until = :until, attempts = attempts + :one, updated_at = :t "
                "REMOVE pending_shard, pending_since, quiet_portal, quiet_until"  # quiet_*: store/quiet.py
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
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except Exception as exc:
        if not conditional_failed(exc):
            raise
        item = old_item(exc)
        return None, Message.from_item(item) if item else None
    return Message.from_item(response["Attributes"]), None


def claim_for_dispatch(member_id: str, message_id: str, lease_seconds: int) -> Message | None:
    """Take a message to send it: only one dispatcher can hold it; None if it is not waiting."""
    return claim(member_id, message_id, lease_seconds)[0]


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
    failover: str = "",
    reconcile_after: int = 0,
) -> Message | None:
    """The carrier took the message: keep its id (callbacks find the message by it), the number as
    sent and the size, and drop the text. A carrier with one id per segment also gets each segment
    a slot in ``parts`` (receipts that came first are kept). ``reconcile_after``: in the same write,
    the message enters ``by-reconcile``, due then (recon.py). Returns the record as it is now."""
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
    if failover:  # sent by the fallback carrier: why (the page's log shows it)
        sets += ", failover = :fo"
        values[":fo"] = failover
    if reconcile_after:
        sets += ", " + recon.ENTER
        values.update(recon.enter_values(message.message_id, reconcile_after))
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
    rank = bitrix_statuses.rank(status) if status else 0
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
            ":shard": pending_shard(message.message_id),
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
    price_after: int = 0,
    sent_with_defaults: str = "",
) -> Message | None:
    """Move a message's Bitrix24 status forward and return the record as it is now; None (and nothing
    written) if the message is unknown, the status is not forward, ``carrier_message_id`` is given
    and the record already holds another one, or ``sent_with_defaults`` (a carrier) is given and the
    message was sent by that carrier with a portal's own sender or credentials (a callback the
    deployment's credentials verified moves only what they sent: status_updates.py)."""
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
    if status in bitrix_statuses.FINAL and price_after and not price:  # only its price left to ask (recon.py)
        sets += [recon.ENTER, "recon_tries = :rzero"]
        values.update(recon.enter_values(message_id, price_after), **{":rzero": 0})
    elif status in bitrix_statuses.FINAL:  # nothing more to ask the carrier: out of ``by-reconcile``
        remove += list(recon.LEAVE)
    condition = "attribute_exists(member_id) AND status_rank < :r"
    if carrier_message_id:
        condition += " AND (attribute_not_exists(carrier_message_id) OR carrier_message_id = :cid)"
        values[":cid"] = carrier_message_id
    if sent_with_defaults:
        own = "attribute_not_exists(carrier_sender) AND attribute_not_exists(carrier_credentials)"
        condition += f" AND (carrier <> :dc OR ({own}))"
        values[":dc"] = sent_with_defaults
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
