"""DynamoDB storage of two-way SMS (the ``ChatsTable``, one table, items told apart by ``pk``):

- ``recipient#<phone>``: the portal that last texted this customer, so a reply finds its portal even
  on a number all portals share;
- ``optout#<member_id>`` / ``<phone>``: customers who sent STOP to this portal's messages;
- ``inbound#<member_id>#<key>``: one inbound SMS (``key``: the carrier and its message id, or the
  sender and the concatenation reference of a long Vonage SMS): its parts seen so far, each kept once,
  whether it is ``posted`` in the chat yet, and who is posting it (``posting_until``). A carrier's
  retry of an SMS already posted changes nothing;
- ``route#<our number>`` / ``<member_id>``: a portal that sends from this number of ours, so the
  first SMS a customer sends to it finds the portal without scanning PortalsTable.

Every item expires (``expires_at``) except opt-outs, which last until the customer sends START, and
routes, which last as long as the portal keeps the number.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from b24sms.adapters.config import get_settings
from b24sms.adapters.store._table import guarded, now, table

RECIPIENT_DAYS = 30
# What dispatch asks for every SMS, read less often (issue #18: AWS requests per SMS):
# - a portal's opt-outs are read as one list (a Query) and kept this many seconds per warm Lambda; a
#   portal with more than OPT_OUT_LIST opt-outs is asked per number (a GetItem) as before. An opt-out
#   or opt-in made in this Lambda drops the portal's list at once; one made in another (the inbound
#   route's STOP) is seen here within OPT_OUT_CACHE_SECONDS.
# - the recipient item is written once per number, portal and day per warm Lambda (it lasts
#   RECIPIENT_DAYS): a campaign's repeat numbers cost no write.
OPT_OUT_CACHE_SECONDS = 2.0
OPT_OUT_LIST = 100
_OPT_OUTS: dict[str, tuple[float, frozenset[str] | None]] = {}  # member_id -> (read at, numbers; None: too many)
_REMEMBERED: dict[str, tuple[str, int]] = {}  # phone -> (member_id, day) last written by this Lambda
REMEMBERED_MAX = 50_000  # forgotten all at once beyond this many numbers (a warm Lambda's memory)
INBOUND_HOURS = 48  # longer than any carrier retries an inbound SMS (Vonage: 24 h)
POSTING_SECONDS = 30  # a poster that died holding an inbound SMS lets others post it after this


def _table() -> Any:
    return table("chats_table")


def _enabled() -> bool:
    """Two-way SMS needs the table (a deployment without CHATS_TABLE only sends)."""
    return bool(get_settings().chats_table)


def remember_recipient(member_id: str, phone: str) -> None:
    if not _enabled():
        return
    day = now() // 86400
    if _REMEMBERED.get(phone) == (member_id, day):
        return  # written today by this Lambda for this portal: it lasts RECIPIENT_DAYS
    _table().put_item(
        Item={
            "pk": f"recipient#{phone}",
            "sk": "-",
            "member_id": member_id,
            "at": now(),
            "expires_at": now() + RECIPIENT_DAYS * 86400,
        }
    )
    if len(_REMEMBERED) >= REMEMBERED_MAX:
        _REMEMBERED.clear()
    _REMEMBERED[phone] = (member_id, day)


def recipient_portal(phone: str) -> str:
    item = _table().get_item(Key={"pk": f"recipient#{phone}", "sk": "-"}).get("Item")
    return str(item["member_id"]) if item else ""


def opt_out(member_id: str, phone: str, source: str) -> bool:
    """Opt ``phone`` out of this portal's SMS; False when it already was (the first opt-out is kept)."""
    if not _enabled():
        return False
    _OPT_OUTS.pop(member_id, None)
    response = guarded(
        _table().put_item,
        Item={"pk": f"optout#{member_id}", "sk": phone, "at": now(), "source": source},
        ConditionExpression="attribute_not_exists(pk)",
    )
    _OPT_OUTS.pop(member_id, None)  # and after: a list read meanwhile may not hold it
    return response is not None


def opt_in(member_id: str, phone: str) -> bool:
    response = guarded(
        _table().delete_item, Key={"pk": f"optout#{member_id}", "sk": phone}, ConditionExpression="attribute_exists(pk)"
    )
    _OPT_OUTS.pop(member_id, None)
    return response is not None


def is_opted_out(member_id: str, phone: str) -> bool:
    """Whether the customer sent STOP to this portal's messages: from the portal's list of opt-outs
    (one Query, kept OPT_OUT_CACHE_SECONDS), or per number for a portal with a long list."""
    if not _enabled():
        return False
    cached = _OPT_OUTS.get(member_id)
    if cached is None or time.monotonic() - cached[0] >= OPT_OUT_CACHE_SECONDS:
        cached = (time.monotonic(), _opted_out_numbers(member_id))
        _OPT_OUTS[member_id] = cached
    if cached[1] is not None:
        return phone in cached[1]
    return "Item" in _table().get_item(
        Key={"pk": f"optout#{member_id}", "sk": phone}, ProjectionExpression="pk", ConsistentRead=True
    )


def _opted_out_numbers(member_id: str) -> frozenset[str] | None:
    """The portal's opted-out numbers, or None when it has more than OPT_OUT_LIST (one page)."""
    from boto3.dynamodb.conditions import Key  # cold start: boto3 loads at the first table call, not at import

    page = _table().query(
        KeyConditionExpression=Key("pk").eq(f"optout#{member_id}"),
        ProjectionExpression="sk",
        Limit=OPT_OUT_LIST + 1,
        ConsistentRead=True,
    )
    items = page.get("Items", [])
    if len(items) > OPT_OUT_LIST or "LastEvaluatedKey" in page:
        return None
    return frozenset(str(item["sk"]) for item in items)


@dataclass(frozen=True)
class Inbound:
    """An inbound SMS as stored: its parts so far (part number -> text), whether it is in the chat,
    and whether this call added ``part`` (False: the carrier sent this part before)."""

    parts: dict[int, str]
    posted: bool
    new: bool
    shown: int = 0  # how many parts the chat message showed at its last successful send or update

    def text(self) -> str:
        return "".join(self.parts[n] for n in sorted(self.parts))


def _inbound_key(member_id: str, key: str) -> dict[str, str]:
    return {"pk": f"inbound#{member_id}#{key}", "sk": "-"}


def _inbound(attributes: dict[str, Any], new: bool) -> Inbound:
    parts = {int(k): str(v) for k, v in (attributes.get("parts") or {}).items()}
    return Inbound(parts, bool(attributes.get("posted")), new, int(attributes.get("shown") or 0))


def add_part(member_id: str, key: str, part: int, total: int, text: str) -> Inbound:
    """Keep one part of an inbound SMS (a single-part SMS is part 1 of 1) once: a conditional write,
    so a carrier's retry or a duplicate part is told apart from a new one."""
    item_key = _inbound_key(member_id, key)
    created = guarded(
        _table().put_item,
        Item={**item_key, "total": total, "parts": {str(part): text}, "expires_at": now() + INBOUND_HOURS * 3600},
        ConditionExpression="attribute_not_exists(pk)",
    )
    if created is not None:
        return Inbound({part: text}, False, True)
    response = guarded(
        _table().update_item,
        Key=item_key,
        UpdateExpression="SET parts.#n = :t",
        ConditionExpression="attribute_not_exists(parts.#n)",
        ExpressionAttributeNames={"#n": str(part)},
        ExpressionAttributeValues={":t": text},
        ReturnValues="ALL_NEW",
    )
    if response is not None:
        return _inbound(response["Attributes"], True)
    item = _table().get_item(Key=item_key, ConsistentRead=True).get("Item") or {}
    return _inbound(item, False)


def claim_posting(member_id: str, key: str) -> bool:
    """Take the right to post an inbound SMS into its chat (``imconnector.send.messages``): only one
    caller at a time, and never once it is posted."""
    t = now()
    response = guarded(
        _table().update_item,
        Key=_inbound_key(member_id, key),
        UpdateExpression="SET posting_until = :until",
        ConditionExpression="attribute_exists(pk) AND attribute_not_exists(posted) "
        "AND (attribute_not_exists(posting_until) OR posting_until < :now)",
        ExpressionAttributeValues={":until": t + POSTING_SECONDS, ":now": t},
    )
    return response is not None


def release_posting(member_id: str, key: str) -> None:
    """The post failed: let the carrier's retry (or the next part) post it."""
    _table().update_item(Key=_inbound_key(member_id, key), UpdateExpression="REMOVE posting_until")


def mark_posted(member_id: str, key: str, shown: int) -> Inbound:
    """The SMS is in the chat (with ``shown`` parts): from now on its parts update that message.
    Returns the parts as they are at this moment (a part added while we were posting is among them)."""
    response = _table().update_item(
        Key=_inbound_key(member_id, key),
        UpdateExpression="SET posted = :yes, shown = :n REMOVE posting_until",
        ExpressionAttributeValues={":yes": True, ":n": shown},
        ReturnValues="ALL_NEW",
    )
    return _inbound(response["Attributes"], False)


def mark_shown(member_id: str, key: str, shown: int) -> None:
    """The chat message now shows ``shown`` parts (never counted down)."""
    guarded(
        _table().update_item,
        Key=_inbound_key(member_id, key),
        UpdateExpression="SET shown = :n",
        ConditionExpression="attribute_not_exists(shown) OR shown < :n",
        ExpressionAttributeValues={":n": shown},
    )


def remember_route(number: str, member_id: str) -> None:
    """This portal sends from ``number`` (ours, E.164): an SMS a customer sends to it may be theirs."""
    if not _enabled() or not number:
        return
    _table().put_item(Item={"pk": f"route#{number}", "sk": member_id, "at": now()})


def route_portals(number: str) -> list[str]:
    """The portals that send from this number of ours (usually one)."""
    from boto3.dynamodb.conditions import Key  # cold start: boto3 loads at the first table call, not at import

    if not _enabled() or not number:
        return []
    page = _table().query(KeyConditionExpression=Key("pk").eq(f"route#{number}"), ProjectionExpression="sk", Limit=25)
    return [str(item["sk"]) for item in page.get("Items", [])]


# -- opt-outs ------------------------------------------------------------------------------------
def opt_outs(member_id: str, limit: int = 200) -> list[dict[str, Any]]:
    from boto3.dynamodb.conditions import Key  # cold start: boto3 at the first query

    page = _table().query(KeyConditionExpression=Key("pk").eq(f"optout#{member_id}"), Limit=limit)
    return [{"phone": str(i["sk"]), "at": int(i.get("at", 0)), "source": str(i.get("source", ""))} for i in page.get("Items", [])]
