"""Where statuses reach the portal: ``messageservice.message.status.update``, grouped per portal
into ``batch`` calls of up to 50, single calls where a batch refuses the method. The whole policy is
here: reading the status queue's records, batching, and deferring what could not be pushed (each
deferred record backs off from its ``ApproximateReceiveCount``, and comes back no sooner than the
portal asked).

The queue says only *which* message changed; the status pushed is the one stored now, and only if
the portal has not seen it (``pushed_rank``). So a late or duplicated queue message can never move
a portal's status backwards, and a status pushed once is not pushed again.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import queues, store
from b24sms.adapters.bitrix import BitrixError, OperationTimeLimit
from b24sms.adapters.bitrix.client import BATCH_LIMIT, BitrixClient
from b24sms.adapters.bitrix.tokens import client_for
from b24sms.adapters.config import get_settings
from b24sms.domain import stats, statuses
from b24sms.domain.models import Message
from b24sms.usecases import replies

logger = Logger(child=True)

METHOD = "messageservice.message.status.update"
TEST_PREFIX = "test-"  # message ids of the application page's test SMS (page.send_test)
DROP_CODES = frozenset({"ERROR_MESSAGE_NOT_FOUND"})
# Portals whose batch refused messageservice methods: single calls from then on (per process).
_NO_BATCH: set[str] = set()

Key = tuple[str, str]


@dataclass
class PushReport:
    pushed: list[Key] = field(default_factory=list)
    dropped: list[Key] = field(default_factory=list)
    failed: list[Key] = field(default_factory=list)  # to retry later
    calls: int = 0
    finals: list[Message] = field(default_factory=list)  # final statuses the portal now has: the day counters
    retry_after: float = 0.0  # the portal said when to come back (OPERATION_TIME_LIMIT), in seconds


def push(keys: list[Key]) -> PushReport:
    report = PushReport()
    by_portal: dict[str, list[Key]] = defaultdict(list)
    for key in dict.fromkeys(keys):
        by_portal[key[0]].append(key)
    found = store.messages.get_messages(list(dict.fromkeys(keys)))
    for member_id, portal_keys in by_portal.items():
        try:
            _push_portal(member_id, portal_keys, found, report)
        except Exception:  # one portal's trouble must not hold back the others' statuses
            logger.exception("status push failed", extra={"member_id": member_id})
            done = set(report.pushed) | set(report.dropped) | set(report.failed)
            report.failed.extend(k for k in portal_keys if k not in done)
    _count(report)
    return report


def _count(report: PushReport) -> None:
    """The batch's final statuses into the day counters: one ADD per portal-day (stats.py)."""
    try:
        store.messages.add_day_counts(stats.tally(report.finals))
    except Exception:  # statistics must never hold back statuses
        logger.exception("day counters not updated", extra={"count": len(report.finals)})


def _push_portal(member_id: str, keys: list[Key], found: dict[Key, Message], report: PushReport) -> None:
    pending = [found[k] for k in keys if k in found and found[k].status_rank > found[k].pushed_rank]
    if not pending:
        return
    portal = store.portals.get_portal(member_id)
    if portal is None or not portal.installed:
        for message in pending:
            store.messages.mark_pushed(message.member_id, message.message_id, message.status_rank, "portal uninstalled")
            report.dropped.append((message.member_id, message.message_id))
        logger.warning("statuses dropped: portal uninstalled", extra={"member_id": member_id, "count": len(pending)})
        return
    for message in [m for m in pending if m.message_id.startswith(TEST_PREFIX)]:  # the page's test SMS: no portal message
        _done(message, report)
    pending = [m for m in pending if not m.message_id.startswith(TEST_PREFIX)]
    if not pending:
        return
    client = client_for(portal)
    operator_replies = [m for m in pending if m.code == replies.OPENLINES_CODE]
    if operator_replies:
        pending = [m for m in pending if m.code != replies.OPENLINES_CODE]
        _push_replies(client, member_id, operator_replies, report)
    for start in range(0, len(pending), BATCH_LIMIT):
        chunk = pending[start : start + BATCH_LIMIT]
        try:
            _push_chunk(client, member_id, chunk, report)
        except BitrixError as exc:
            # Portal down, throttling or out of operating time: everything left waits in the queue.
            logger.warning(
                "status push deferred", extra={"member_id": member_id, "error": exc.code, "count": len(pending) - start}
            )
            report.failed.extend((m.member_id, m.message_id) for m in pending[start:])
            if isinstance(exc, OperationTimeLimit):
                report.retry_after = max(report.retry_after, exc.reset_at - time.time())
            break
    report.calls += client.requests_made


def _push_replies(client: BitrixClient, member_id: str, operator_replies: list[Message], report: PushReport) -> None:
    """Operators' Open Lines replies: the chat shows "delivered" once the carrier says so, and a
    reply that failed gets a message in the chat saying why (replies.push_reply_status)."""
    for message in operator_replies:
        try:
            replies.push_reply_status(client, message)
        except BitrixError as exc:
            if exc.transient:
                logger.warning("reply status deferred", extra={"member_id": member_id, "error": exc.code})
                report.failed.append((message.member_id, message.message_id))
                continue
            _drop(message, exc, report)
            continue
        _done(message, report)


def _params(message: Message) -> dict[str, str]:
    return {"CODE": message.code or get_settings().sender_code, "MESSAGE_ID": message.message_id, "STATUS": message.status}


def _push_chunk(client: BitrixClient, member_id: str, chunk: list[Message], report: PushReport) -> None:
    singles: list[Message] = []
    if len(chunk) == 1 or member_id in _NO_BATCH:
        singles = chunk
    else:
        result = client.batch({str(i): (METHOD, _params(m)) for i, m in enumerate(chunk)})
        for i, message in enumerate(chunk):
            error = result.errors.get(str(i))
            if error is None and str(i) in result.results:
                _done(message, report)
            elif error is not None and error.code == "ERROR_BATCH_METHOD_NOT_ALLOWED":
                _NO_BATCH.add(member_id)
                singles.append(message)
            elif error is not None and error.code in DROP_CODES:
                _drop(message, error, report)
            else:
                logger.warning("status push failed in batch", extra={"error": error.code if error else "no result"})
                report.failed.append((message.member_id, message.message_id))
    for message in singles:
        try:
            client.call(METHOD, _params(message))
        except BitrixError as exc:
            if exc.code in DROP_CODES:
                _drop(message, exc, report)
                continue
            if exc.transient:
                raise
            logger.warning("status push refused", extra={"error": exc.code})
            report.failed.append((message.member_id, message.message_id))
            continue
        _done(message, report)


def _done(message: Message, report: PushReport) -> None:
    store.messages.mark_pushed(message.member_id, message.message_id, message.status_rank)
    if message.status in statuses.FINAL:  # pending only holds statuses the portal has not seen: once each
        report.finals.append(message)
    report.pushed.append((message.member_id, message.message_id))


def _drop(message: Message, error: BitrixError, report: PushReport) -> None:
    store.messages.mark_pushed(message.member_id, message.message_id, statuses.rank(statuses.FAILED), error.code)
    if message.status in statuses.FINAL:
        report.finals.append(message)
    report.dropped.append((message.member_id, message.message_id))
    logger.warning("status dropped", extra={"message_id": message.message_id, "error": error.code})


def retry_delay(receives: int) -> int:
    """Seconds before a deferred status is tried again: ``PUSH_RETRY_BASE`` (5 s) doubling per receive,
    at most ``PUSH_RETRY_CAP`` (an hour). With the status queue's 50 receives the last try comes about
    40 h after the first: a portal down for a day loses no status (tests/unit/test_push_outage.py)."""
    settings = get_settings()
    return int(min(settings.push_retry_base * 2 ** max(receives - 1, 0), settings.push_retry_cap))


@dataclass
class RecordsResult:
    report: PushReport
    failures: list[str]  # SQS message ids to hand back as batchItemFailures (each delayed already)


def push_records(records: list[dict[str, Any]]) -> RecordsResult:
    """One batch of the status queue: push what its records name, and defer the records whose status
    could not be pushed. An unreadable record is dropped (logged): retrying cannot fix it."""
    by_id: dict[str, dict[str, Any]] = {}
    keys_by_record: dict[str, Key] = {}
    for record in records:
        try:
            keys_by_record[record["messageId"]] = queues.parse_body(record["body"])
            by_id[record["messageId"]] = record
        except (KeyError, ValueError, TypeError, json.JSONDecodeError):
            logger.error("unreadable status queue message dropped", extra={"sqs_message_id": record.get("messageId")})
    report = push(list(keys_by_record.values()))
    failed = set(report.failed)
    failures = [rid for rid, key in keys_by_record.items() if key in failed]
    for rid in failures:
        # A portal that is down may stay down for hours: back off per message, up to an hour, so the
        # status waits in the queue (kept 14 days) instead of burning its receives into the DLQ.
        record = by_id[rid]
        receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        delay = max(retry_delay(receives), int(report.retry_after) + 1 if report.retry_after else 0)
        queues.delay_redelivery(record["eventSourceARN"], record["receiptHandle"], delay)
    return RecordsResult(report, failures)
