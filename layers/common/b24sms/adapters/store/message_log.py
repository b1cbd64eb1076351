"""The page's message log: a Query on the ``by-portal-created`` index of the ``MessagesTable``, newest
first, filtered, paged by an opaque cursor; never a Scan."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from b24sms.adapters.store._table import table
from b24sms.domain.models import Message

LOG_INDEX = "by-portal-created"


def _messages() -> Any:
    return table("messages_table")


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
