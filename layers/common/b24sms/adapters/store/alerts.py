"""Which admin alerts are open on a portal (``PortalsTable``, ``alerts``: cause -> since), so that each
is told once when it starts and once when it ends, however many Lambdas see it: both are conditional
writes, and only the one that changed the record notifies."""

from __future__ import annotations

from typing import Any

from b24sms.adapters.store import portals
from b24sms.adapters.store._table import guarded, now, table


def _portals() -> Any:
    return table("portals_table")


def _ensure_map(member_id: str, attribute: str) -> None:
    """``attribute`` as a map on an installed portal, once per portal: a nested path cannot be set
    inside a missing map."""
    guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET #a = if_not_exists(#a, :empty)",
        ConditionExpression="#s = :installed",
        ExpressionAttributeNames={"#a": attribute, "#s": "status"},
        ExpressionAttributeValues={":empty": {}, ":installed": "installed"},
    )


def open_alert(member_id: str, cause: str) -> bool:
    """Mark ``cause`` open on an installed portal; True only for the caller that opened it."""
    _ensure_map(member_id, "alerts")
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET #a.#c = :t",
        ConditionExpression="#s = :installed AND attribute_exists(#a) AND attribute_not_exists(#a.#c)",
        ExpressionAttributeNames={"#a": "alerts", "#c": cause, "#s": "status"},
        ExpressionAttributeValues={":t": now(), ":installed": "installed"},
    )
    return response is not None


def close_alert(member_id: str, cause: str) -> bool:
    """Mark ``cause`` over; True only for the caller that closed an open one."""
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="REMOVE #a.#c",
        ConditionExpression="attribute_exists(#a.#c)",
        ExpressionAttributeNames={"#a": "alerts", "#c": cause},
    )
    return response is not None


MAX_ADMINS = 20  # whom an alert may go to, besides the installer: a bound on the portal's record


def remember_admin(member_id: str, user_id: str) -> bool:
    """``user_id`` opened the page as an administrator: alerts go to them too (at most ``MAX_ADMINS``)."""
    _ensure_map(member_id, "admins")
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET #a.#u = :t",
        ConditionExpression="#s = :installed AND attribute_exists(#a) AND size(#a) < :max",
        ExpressionAttributeNames={"#a": "admins", "#u": user_id, "#s": "status"},
        ExpressionAttributeValues={":t": now(), ":installed": "installed", ":max": MAX_ADMINS},
    )
    return response is not None


def forget_admin(member_id: str, user_id: str) -> bool:
    """``user_id`` opened the page and is no longer an administrator: no more alerts to them."""
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="REMOVE #a.#u",
        ConditionExpression="attribute_exists(#a.#u)",
        ExpressionAttributeNames={"#a": "admins", "#u": user_id},
    )
    return response is not None


def set_delivery_alert(member_id: str, percent: int) -> bool:
    """The delivery rate (percent) below which the portal's admins are told; 0: never."""
    return portals.set_settings(member_id, delivery_alert=percent)
