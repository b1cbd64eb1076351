"""Portals in the ``PortalsTable``: the record of an installed portal, its token pair (refreshed
under a conditional lock on ``token_version``), its Open Lines and its own carrier configuration."""

from __future__ import annotations

from typing import Any

from b24sms.adapters.store._table import guarded, now, table
from b24sms.domain.models import UNINSTALLED, Portal


def _portals() -> Any:
    return table("portals_table")


def get_portal(member_id: str) -> Portal | None:
    item = _portals().get_item(Key={"member_id": member_id}, ConsistentRead=True).get("Item")
    return Portal.from_item(item) if item else None


def put_portal(portal: Portal) -> None:
    _portals().put_item(Item=portal.to_item())


def installed_page(start: dict[str, Any] | None, limit: int) -> tuple[list[str], dict[str, Any] | None]:
    """One page of the installed portals' member ids: a Scan of at most ``limit`` items (fewer are
    installed ones: the filter applies after the limit), reading only ``member_id`` and ``status``.
    Returns the ids and where the next page starts (None: that was the last)."""
    kwargs: dict[str, Any] = {
        "Limit": limit,
        "ProjectionExpression": "member_id",
        "FilterExpression": "#s = :installed",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":installed": "installed"},
    }
    if start:
        kwargs["ExclusiveStartKey"] = start
    page = _portals().scan(**kwargs)
    return [str(item["member_id"]) for item in page.get("Items", [])], page.get("LastEvaluatedKey")


def save_registration(member_id: str, handler: str, name: str) -> None:
    _portals().update_item(
        Key={"member_id": member_id},
        UpdateExpression="SET registered_handler = :h, registered_name = :n, updated_at = :t",
        ExpressionAttributeValues={":h": handler, ":n": name, ":t": now()},
    )


def mark_uninstalled(member_id: str, sender_seq: int = 0) -> None:
    """Lock the portal out: tokens and secrets erased, the record kept as a tombstone. The tombstone
    keeps ``sender_seq``: the portal's messages (kept without CLEAN) name removed senders' CODEs, so a
    reinstall must not hand them out again."""
    item: dict[str, Any] = {"member_id": member_id, "client_endpoint": "", "status": UNINSTALLED, "updated_at": now()}
    if sender_seq:
        item["sender_seq"] = sender_seq
    _portals().put_item(Item=item)


def try_lock_refresh(member_id: str, version: int, lock_seconds: int) -> bool:
    """Take the right to spend the refresh token of ``version``; False if another caller holds it
    or already refreshed."""
    t = now()
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET refresh_lock_until = :until",
        ConditionExpression=(
            "token_version = :v AND #s = :installed AND (attribute_not_exists(refresh_lock_until) OR refresh_lock_until < :now)"
        ),
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":v": version, ":now": t, ":until": t + lock_seconds, ":installed": "installed"},
    )
    return response is not None


def save_refreshed_tokens(member_id: str, version: int, tokens: dict[str, Any]) -> bool:
    """Store the new token pair as ``version + 1``; False if the portal changed meanwhile."""
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression=(
            "SET access_token = :a, refresh_token = :r, expires_at = :e, token_version = :next, "
            "updated_at = :t REMOVE refresh_lock_until"
        ),
        ConditionExpression="token_version = :v",
        ExpressionAttributeValues={
            ":a": tokens["access_token"],
            ":r": tokens["refresh_token"],
            ":e": int(tokens["expires_at"]),
            ":v": version,
            ":next": version + 1,
            ":t": now(),
        },
    )
    return response is not None


def release_refresh_lock(member_id: str) -> None:
    _portals().update_item(Key={"member_id": member_id}, UpdateExpression="REMOVE refresh_lock_until")


def set_scope(member_id: str, scope: str) -> None:
    """The scopes the portal grants now (a new version of the app may ask for more)."""
    guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET #sc = :s, updated_at = :t",
        ConditionExpression="#st = :installed",
        ExpressionAttributeNames={"#sc": "scope", "#st": "status"},
        ExpressionAttributeValues={":s": scope, ":t": now(), ":installed": "installed"},
    )


def set_openlines(member_id: str, lines: dict[str, str]) -> None:
    """The Open Lines our SMS channel is connected to on this portal."""
    _portals().update_item(
        Key={"member_id": member_id},
        UpdateExpression="SET openlines = :l, updated_at = :t",
        ExpressionAttributeValues={":l": lines, ":t": now()},
    )


def set_settings(member_id: str, **fields: Any) -> bool:
    """Set a portal's settings (the page's sections) and ``updated_at`` on its record; False when there
    is no record (one conditional write)."""
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values: dict[str, Any] = {f":f{i}": value for i, value in enumerate(fields.values())}
    values[":t"] = now()
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(fields))) + ", updated_at = :t",
        ConditionExpression="attribute_exists(member_id)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )
    return response is not None


def set_carrier_config(member_id: str, config: dict[str, str]) -> bool:
    """A portal's own carrier configuration (an empty one: back to the deployment's default)."""
    return set_settings(member_id, carrier_config=config)


def set_routing(member_id: str, routing: dict[str, str], accounts: dict[str, dict[str, str]]) -> bool:
    """A portal's routing table and the accounts of the carriers it names (empty: the deployment's)."""
    return set_settings(member_id, routing=routing, carrier_accounts=accounts)


def set_reconcile(member_id: str, value: str) -> bool:
    """Whether the reconciler asks the carrier about this portal's late statuses ("off": never)."""
    return set_settings(member_id, reconcile=value)


# -- senders -------------------------------------------------------------------------------------
def save_senders(member_id: str, senders: dict[str, dict[str, str]]) -> bool:
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET senders = :s, updated_at = :t",
        ConditionExpression="attribute_exists(member_id) AND #st = :installed",
        ExpressionAttributeNames={"#st": "status"},
        ExpressionAttributeValues={":s": senders, ":t": now(), ":installed": "installed"},
    )
    return response is not None


def take_sender_number(member_id: str, number: int) -> bool:
    """Take ``number`` for a new sender: ``sender_seq`` only rises, so a removed sender's CODE is never
    handed out again. False when another call took it first (or the portal is not installed)."""
    response = guarded(
        _portals().update_item,
        Key={"member_id": member_id},
        UpdateExpression="SET sender_seq = :n, updated_at = :t",
        ConditionExpression="#st = :installed AND (attribute_not_exists(sender_seq) OR sender_seq < :n)",
        ExpressionAttributeNames={"#st": "status"},
        ExpressionAttributeValues={":n": number, ":t": now(), ":installed": "installed"},
    )
    return response is not None


def set_timeline_delivered(member_id: str, on: bool) -> None:
    """Whether the CRM timeline gets an entry for delivered SMS too (the page's CRM section)."""
    _portals().update_item(
        Key={"member_id": member_id},
        UpdateExpression="SET timeline_delivered = :on",
        ConditionExpression="attribute_exists(member_id)",
        ExpressionAttributeValues={":on": on},
    )
