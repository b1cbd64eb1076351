"""Carrier account holds on the portal's record (``PortalsTable``, ``account_holds``: account key ->
``domain.holds.AccountHold``). Every change is a conditional write, so of many dispatchers meeting the
same refusal one holds the account, and of many messages due for a probe one takes it."""

from __future__ import annotations

from typing import Any

from b24sms.adapters.store._table import guarded, table
from b24sms.domain.holds import AccountHold


def _portals() -> Any:
    return table("portals_table")


def hold(member_id: str, key: str, held: AccountHold) -> bool:
    """Hold the account ``key`` of an installed portal; False when it was held already (or no such portal)."""
    names = {"#h": "account_holds", "#k": key, "#s": "status"}
    guarded(  # the map, once per portal (a nested path cannot be set inside a missing map)
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET #h = if_not_exists(#h, :empty)",
        ConditionExpression="#s = :installed",
        ExpressionAttributeNames={"#h": "account_holds", "#s": "status"},
        ExpressionAttributeValues={":empty": {}, ":installed": "installed"},
    )
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET #h.#k = :hold",
        ConditionExpression="#s = :installed AND attribute_exists(#h) AND attribute_not_exists(#h.#k)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={":hold": held.to_item(), ":installed": "installed"},
    )
    return response is not None


def take_probe(member_id: str, key: str, seen_probe_at: int, next_probe_at: int) -> bool:
    """The right to try the held account now: True for exactly one caller per probe time."""
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET #h.#k.probe_at = :next",
        ConditionExpression="#h.#k.probe_at = :seen",
        ExpressionAttributeNames={"#h": "account_holds", "#k": key},
        ExpressionAttributeValues={":next": next_probe_at, ":seen": seen_probe_at},
    )
    return response is not None


def release(member_id: str, keys: list[str]) -> None:
    """End the holds ``keys`` (those already ended are no matter)."""
    if not keys:
        return
    names = {f"#k{i}": key for i, key in enumerate(keys)}
    guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="REMOVE " + ", ".join(f"#h.{name}" for name in names),
        ConditionExpression="attribute_exists(#h)",
        ExpressionAttributeNames={"#h": "account_holds", **names},
    )
