"""The status queue's side of the push: a receive's records in, what to hand back out.

Each record is a portal's "has work" token (``usecases/push.py`` drains the portal). What could not
be pushed comes back in one of three ways:

- a portal that failed (down, slow, throttling, out of operating time): each of its records is
  deferred with its own back-off (``push.retry_delay`` of its receive count, no sooner than the
  portal asked), so a portal down for a day burns no receives into the DLQ;
- statuses that wait on purpose (coalescing: the portal was pushed less than ``PUSH_LINGER`` ago, or
  another drain of it is in flight): the records are let go and the portal gets ONE delayed token
  ``{member_id}`` (a SendMessageBatch entry), which drains everything it has pending when it comes
  back; its ``wake_at`` (LimitsTable) tells the portal's other records that one is on its way, so a
  campaign has about one token per linger, not one per receive. Before, every waiting record was put
  back (a ChangeMessageVisibility each) and came back to be read, waited and put back again;
- a portal with more pending than one drain takes: a token at once.

The statuses themselves are safe meanwhile: each is stored and in ``by-push-pending`` until the
portal has it, and the recovery sweep queues any the token missed.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import queues
from b24sms.usecases import push, push_turn
from b24sms.usecases.push import BUDGET_MARGIN, PORTAL_BUDGET, PushReport
from b24sms.usecases.push_turn import TURN_WAIT, Key

logger = Logger(child=True)


@dataclass
class RecordsResult:
    report: PushReport
    failures: list[str]  # SQS message ids to hand back as batchItemFailures (each delayed already)


def push_records(records: list[dict[str, Any]], remaining_seconds: float | None = None) -> RecordsResult:
    """One batch of the status queue: push what its records name (each portal drained within
    ``remaining_seconds`` of Lambda time less a margin, at most ``PORTAL_BUDGET``), and defer the
    records whose portal could not take its statuses. An unreadable record is dropped (logged):
    retrying cannot fix it."""
    by_id: dict[str, dict[str, Any]] = {}
    keys_by_record: dict[str, Key] = {}
    carried: dict[Key, tuple[int, float] | None] = {}  # final statuses the records carry: not read (push._pending)
    for record in records:
        try:
            key = queues.parse_body(record["body"], portal_token=True)
            keys_by_record[record["messageId"]] = key
            by_id[record["messageId"]] = record
        except (KeyError, ValueError, TypeError, AttributeError, json.JSONDecodeError):
            logger.error("unreadable status queue message dropped", extra={"sqs_message_id": record.get("messageId")})
            continue
        if key[1]:  # named again without it (the recovery sweep's record) or differently: it is read
            final = queues.final_of(record["body"])
            carried[key] = final if final is not None and carried.get(key, final) == final else None
    finals = {k: v for k, v in carried.items() if v is not None}
    budget = PORTAL_BUDGET if remaining_seconds is None else max(min(PORTAL_BUDGET, remaining_seconds - BUDGET_MARGIN), 1.0)
    report = push.push(list(keys_by_record.values()), time.monotonic() + budget, finals)
    failed = set(report.failed)
    failures = [rid for rid, key in keys_by_record.items() if key in failed or (not key[1] and key[0] in report.deferred_portals)]
    failing = {keys_by_record[rid][0] for rid in failures}
    for rid in failures:
        # A portal that is down may stay down for hours: back off per record, up to an hour, so the
        # status waits in the queue (kept 14 days) instead of burning its receives into the DLQ.
        record = by_id[rid]
        receives = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        asked = report.deferred_portals.get(keys_by_record[rid][0], 0.0)
        delay = max(push.retry_delay(receives), int(asked) + 1 if asked else 0)
        queues.delay_redelivery(record["eventSourceARN"], record["receiptHandle"], delay)
    # Not pushed yet on purpose (coalescing, another drain in flight, more than one drain): the
    # portal's other records go, one delayed token per portal comes back for all of them.
    waits = {m: max(1, math.ceil(s or TURN_WAIT)) for m, s in report.waiting.items() if m not in failing}
    waits.update((m, 0) for m in report.more - failing - set(waits))
    if waits:
        try:
            sent_at = time.time()
            queues.enqueue_portal_waits(waits)
        except Exception:  # the records come back themselves instead (as before the tokens)
            logger.exception("portal tokens not queued", extra={"portals": len(waits)})
            again = [rid for rid, key in keys_by_record.items() if key[0] in waits and rid not in failures]
            for rid in again:
                queues.delay_redelivery(by_id[rid]["eventSourceARN"], by_id[rid]["receiptHandle"], waits[keys_by_record[rid][0]])
            return RecordsResult(report, failures + again)
        push_turn.note_wakes(waits, sent_at)
    return RecordsResult(report, failures)
