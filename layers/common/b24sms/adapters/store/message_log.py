"""The page's message log: a Query on the ``by-portal-log`` index of the ``MessagesTable`` for keys,
newest first, then a BatchGetItem of the page's messages; paged by an opaque cursor; never a Scan.

``by-portal-log`` projects only what never changes after a message is created (its keys, ``code``
and ``to``), so no update of a message writes the index again: one index write per message, at its
creation (template.yaml; tests/unit/test_log_index.py holds the projection to that). The sender and
number filters run in the index (they are projected); the status, which changes, is read from the
table and filtered after the read.

Reads per log page (``limit`` 25): at most ``MAX_PAGES_READ`` (10) index pages of up to 100 keys, and
at most 100 messages read by BatchGetItem per index page (eventually consistent, 0.5 read unit per
message under 4 KB). Without a status filter only the messages the page still needs are read (25,
plus any the digits check or an expiry drops); with one, each index page's candidates are read
whole (up to 1000 messages per log page when few match).

Release N adds ``by-portal-log``; while DynamoDB backfills it, a Query on it fails
(``ValidationException``: "Cannot read from backfilling global secondary index"), and that log page
is read from the old ``by-portal-created`` instead (same keys, same cursors). Release N+1 removes
``by-portal-created`` and ``FALLBACK_INDEX`` (docs/operations.md, "Upgrading")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from b24sms.adapters.store._table import aws_error, table
from b24sms.adapters.store.messages import get_messages
from b24sms.domain.models import Message

LOG_INDEX = "by-portal-log"
FALLBACK_INDEX = "by-portal-created"  # release N only: read while LOG_INDEX backfills
BACKFILLING = "Cannot read from backfilling global secondary index"  # DynamoDB's ValidationException


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
INDEX_PAGE = 100  # keys per index page; also the most messages read per index page


def message_log(member_id: str, filters: LogFilter, limit: int = 25, cursor: str = "") -> LogPage:
    from boto3.dynamodb.conditions import Attr, Key  # cold start: boto3 at the first query

    key = Key("member_id").eq(member_id)
    if filters.since or filters.until:
        key = key & Key("created_at").between(filters.since or 0, filters.until or 2**40)
    kwargs: dict[str, Any] = {
        "IndexName": LOG_INDEX,
        "KeyConditionExpression": key,
        "ScanIndexForward": False,
        "Limit": INDEX_PAGE,
    }
    condition = None  # only what the index projects: the status is filtered after the read
    if filters.code:
        condition = Attr("code").eq(filters.code)
    if filters.digits:
        by_digits = Attr("to").contains(filters.digits[-4:])
        condition = by_digits if condition is None else condition & by_digits
    if condition is not None:
        kwargs["FilterExpression"] = condition
    if cursor:
        kwargs["ExclusiveStartKey"] = _decode_cursor(member_id, cursor)
    found: list[Message] = []
    for _ in range(MAX_PAGES_READ):
        page = _query(kwargs)
        keys = [(item["member_id"], item["message_id"]) for item in page.get("Items", [])]
        while keys:
            # Without a status filter every message read is shown: read only what the page lacks.
            chunk, keys = (keys[: limit - len(found)], keys[limit - len(found) :]) if not filters.status else (keys, [])
            read = get_messages(chunk, consistent=False)
            for chunk_key in chunk:
                message = read.get(chunk_key)
                if message is None or not _matches(message, filters):
                    continue  # expired or erased since the index was read, or filtered out
                found.append(message)
                if len(found) == limit:
                    last = {"member_id": member_id, "message_id": message.message_id, "created_at": message.created_at}
                    return LogPage(found, _encode_cursor(last))
        if "LastEvaluatedKey" not in page:
            return LogPage(found, "")
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    last_key = page["LastEvaluatedKey"]
    return LogPage(found, _encode_cursor(last_key))


def _query(kwargs: dict[str, Any]) -> Any:
    """One index page; from ``FALLBACK_INDEX`` for the rest of this log page while ``LOG_INDEX`` backfills."""
    try:
        return _messages().query(**kwargs)
    except Exception as exc:
        if kwargs["IndexName"] != LOG_INDEX or not _backfilling(exc):
            raise
    kwargs["IndexName"] = FALLBACK_INDEX
    return _messages().query(**kwargs)


def _backfilling(exc: Exception) -> bool:
    error = aws_error(exc)
    return error.get("Code") == "ValidationException" and BACKFILLING in str(error.get("Message", ""))


def _matches(message: Message, filters: LogFilter) -> bool:
    if filters.status and message.status != filters.status:
        return False
    return not filters.digits or _digits(message).endswith(filters.digits)


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
