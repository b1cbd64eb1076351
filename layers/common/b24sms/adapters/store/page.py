"""Every DynamoDB and Secrets Manager access of the application's page: the message log (a Query on
the ``by-portal-created`` index, newest first, never a Scan), the day counters (a Query on the
portal's ``~day#`` keys), the audit log of settings changes and the opt-out list (ChatsTable), the
portal's added senders, and the per-portal carrier credentials secret."""

from __future__ import annotations

import contextlib
import json
import re
import secrets as _secrets
from dataclasses import dataclass
from typing import Any

from b24sms.adapters import config
from b24sms.adapters.store._table import guarded, now, table
from b24sms.domain.models import Message
from b24sms.domain.stats import DAY_PREFIX, day_of

LOG_INDEX = "by-portal-created"
AUDIT_DAYS = 400


def _messages() -> Any:
    return table("messages_table")


def _chats() -> Any:
    return table("chats_table")


def _portals() -> Any:
    return table("portals_table")


# -- message log ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogFilter:
    status: str = ""
    digits: str = ""  # the last digits of the number
    code: str = ""  # the sender
    since: int = 0  # created_at range (inclusive)
    until: int = 0


@dataclass
class LogPage:
    messages: list[Message]
    cursor: str  # "" when there is nothing older


MAX_PAGES_READ = 10  # index pages read per log page at most (filters can skip many messages)


def message_log(member_id: str, filters: LogFilter, limit: int = 25, cursor: str = "") -> LogPage:
    from boto3.dynamodb.conditions import Attr, Key  # cold start: boto3 at the first query

    key = Key("member_id").eq(member_id)
    if filters.since or filters.until:
        key = key & Key("created_at").between(filters.since or 0, filters.until or 2**40)
    kwargs: dict[str, Any] = {"IndexName": LOG_INDEX, "KeyConditionExpression": key, "ScanIndexForward": False, "Limit": 100}
    condition = None
    if filters.status:
        condition = Attr("status").eq(filters.status)
    if filters.code:
        by_code = Attr("code").eq(filters.code)
        condition = by_code if condition is None else condition & by_code
    if filters.digits:
        by_digits = Attr("to").contains(filters.digits[-4:])
        condition = by_digits if condition is None else condition & by_digits
    if condition is not None:
        kwargs["FilterExpression"] = condition
    if cursor:
        kwargs["ExclusiveStartKey"] = _decode_cursor(member_id, cursor)
    found: list[Message] = []
    for _ in range(MAX_PAGES_READ):
        page = _messages().query(**kwargs)
        for item in page.get("Items", []):
            message = Message.from_item(item)
            if filters.digits and not _digits(message).endswith(filters.digits):
                continue
            found.append(message)
            if len(found) == limit:
                last = {"member_id": member_id, "message_id": message.message_id, "created_at": message.created_at}
                return LogPage(found, _encode_cursor(last))
        if "LastEvaluatedKey" not in page:
            return LogPage(found, "")
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    last_key = page["LastEvaluatedKey"]
    return LogPage(found, _encode_cursor(last_key))


def _digits(message: Message) -> str:
    return "".join(ch for ch in (message.sent_to or message.to) if ch.isdigit())


# "<created_at>:<message_id>": a time in seconds (12 digits reach the year 33658; a longer number is
# one DynamoDB cannot hold, and boto3 raised decimal.Rounded on it) and a message id without controls.
CURSOR = re.compile(r"(\d{1,12}):([^\x00-\x1f\x7f]{1,100})")


def is_cursor(cursor: str) -> bool:
    return CURSOR.fullmatch(cursor) is not None


def _encode_cursor(key: dict[str, Any]) -> str:
    return f"{int(key['created_at'])}:{key['message_id']}"


def _decode_cursor(member_id: str, cursor: str) -> dict[str, Any]:
    match = CURSOR.fullmatch(cursor)
    if match is None:
        raise ValueError("not a log cursor")
    return {"member_id": member_id, "message_id": match.group(2), "created_at": int(match.group(1))}


def get_message(member_id: str, message_id: str) -> Message | None:
    item = _messages().get_item(Key={"member_id": member_id, "message_id": message_id}, ConsistentRead=True).get("Item")
    return Message.from_item(item) if item else None


# -- day counters --------------------------------------------------------------------------------
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


# -- audit log -----------------------------------------------------------------------------------
def record_audit(member_id: str, user: str, action: str, changes: dict[str, str]) -> None:
    """Who changed what, when: never a secret (callers pass masked values)."""
    at = now()
    _chats().put_item(
        Item={
            "pk": f"audit#{member_id}",
            "sk": f"{at:012d}#{_secrets.token_hex(4)}",
            "at": at,
            "user": user,
            "action": action,
            "changes": json.dumps(changes, ensure_ascii=False),
            "expires_at": at + AUDIT_DAYS * 86400,
        }
    )


def audit_log(member_id: str, limit: int = 20) -> list[dict[str, Any]]:
    from boto3.dynamodb.conditions import Key  # cold start: boto3 at the first query

    page = _chats().query(KeyConditionExpression=Key("pk").eq(f"audit#{member_id}"), ScanIndexForward=False, Limit=limit)
    return [
        {"at": int(i["at"]), "user": str(i["user"]), "action": str(i["action"]), "changes": json.loads(str(i["changes"]))}
        for i in page.get("Items", [])
    ]


# -- opt-outs ------------------------------------------------------------------------------------
def opt_outs(member_id: str, limit: int = 200) -> list[dict[str, Any]]:
    from boto3.dynamodb.conditions import Key  # cold start: boto3 at the first query

    page = _chats().query(KeyConditionExpression=Key("pk").eq(f"optout#{member_id}"), Limit=limit)
    return [{"phone": str(i["sk"]), "at": int(i.get("at", 0)), "source": str(i.get("source", ""))} for i in page.get("Items", [])]


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


# -- credentials ---------------------------------------------------------------------------------
def secrets_prefix() -> str:
    """Where per-portal credentials live (the functions may read only secrets under it)."""
    return config.carrier_secrets_prefix()


def put_credentials(member_id: str, code: str, values: dict[str, str], replaces: str = "") -> str:
    """A new secret for a portal's carrier credentials (a new name each time, so that no warm function
    keeps using cached old ones); the secret it replaces is scheduled for deletion. Returns its name."""
    client = _secretsmanager()
    name = f"{secrets_prefix()}{member_id}/{code}-{_secrets.token_hex(4)}"
    client.create_secret(Name=name, SecretString=json.dumps(values))
    if replaces and replaces.startswith(f"{secrets_prefix()}{member_id}/"):
        with contextlib.suppress(Exception):  # gone already: nothing to delete
            client.delete_secret(SecretId=replaces, RecoveryWindowInDays=7)
    return name


def read_credentials(name: str) -> dict[str, str]:
    value = _secretsmanager().get_secret_value(SecretId=name)["SecretString"]
    data = json.loads(value)
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _secretsmanager() -> Any:
    import boto3  # cold start: loaded when the page changes credentials

    return boto3.client("secretsmanager")
