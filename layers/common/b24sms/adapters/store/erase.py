"""What an uninstall erases besides the portal record's tokens and settings: the Secrets Manager secrets
of the carrier credentials the page created for it, i.e. those under ``<CARRIER_SECRETS_PREFIX><member_id>/``
(the tombstone keeps no settings that could name them again; a secret an operator named for the portal
is theirs, and may serve others: kept); and with CLEAN, besides its messages
(``messages.delete_portal_messages``), its items in ``ChatsTable`` that name it in their key (the
opt-outs, full numbers; the page's audit log; its portal jobs; the routes of its numbers).

Not reached: ``recipient#<phone>`` (30 days) and ``inbound#…`` (48 hours) items, keyed by the customer's
number, expire by themselves."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from b24sms.adapters.config import get_settings
from b24sms.adapters.store._table import table
from b24sms.adapters.store.credentials import secrets_prefix


def chats_items(member_id: str, numbers: Iterable[str] = ()) -> int:
    """Delete the portal's opt-outs, audit log, jobs not made yet (``store.jobs``: their calls hold
    numbers) and the routes of ``numbers`` to it; how many items."""
    from boto3.dynamodb.conditions import Key  # cold start: boto3 loads at the first table call, not at import

    if not get_settings().chats_table or not member_id:
        return 0
    chats = table("chats_table")
    deleted = 0
    with chats.batch_writer() as writer:
        for pk in (f"optout#{member_id}", f"audit#{member_id}", f"job#{member_id}"):
            kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(pk), "ProjectionExpression": "pk, sk"}
            while True:
                page = chats.query(**kwargs)
                for item in page.get("Items", []):
                    writer.delete_item(Key={"pk": item["pk"], "sk": item["sk"]})
                    deleted += 1
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for number in {n for n in numbers if n}:
            writer.delete_item(Key={"pk": f"route#{number}", "sk": member_id})  # none there: nothing happens
    return deleted


def carrier_secrets(member_id: str, names: Iterable[str], force: bool) -> list[str]:
    """Delete those of ``names`` the page created for this portal, at once (``force``: CLEAN asked for
    it) or after Secrets Manager's 7-day recovery window (an uninstall by mistake can be undone by an
    operator); the names deleted. One already gone or already scheduled is no error."""
    own = f"{secrets_prefix()}{member_id}/"
    doomed = sorted({n for n in names if member_id and n and n.startswith(own)})
    if not doomed:
        return []
    import boto3  # cold start: loaded only when a portal with its own credentials is erased

    client = boto3.client("secretsmanager")
    window = {"ForceDeleteWithoutRecovery": True} if force else {"RecoveryWindowInDays": 7}
    gone = (client.exceptions.ResourceNotFoundException, client.exceptions.InvalidRequestException)
    for name in doomed:
        with contextlib.suppress(*gone):  # gone, or already scheduled for deletion
            client.delete_secret(SecretId=name, **window)
    return doomed
