"""Where statuses reach the portal: ``messageservice.message.status.update``, 50 to a ``batch`` call
per portal, single calls where a batch refuses the method. The whole policy is here: reading the status
queue's records, draining each portal's pending bitrix_statuses, and deferring what could not be pushed.

A status queue record is a portal's "has work" token: it names a message whose status moved (read
consistently: the index below is eventually consistent), or only the portal (the recovery sweep's
token). The push for a portal drains it: the named messages plus the portal's entries in the sparse
index ``by-push-pending`` (at most ``DRAIN_LIMIT``), so a receive holding one record per portal still
sends each portal's statuses 50 to a call, and records whose statuses an earlier drain pushed cost
no REST call.

Portals are pushed in parallel, each within its own time budget and with a fail-fast client (no
sleeping retries): a slow or down portal costs only itself. What becomes of the records (deferred with
a back-off of their own, or let go for one delayed portal token) is ``status_queue.py``'s.

The status pushed is the one stored now, and only if the portal has not seen it (``pushed_rank``). So a
late or duplicated record can never move a portal's status backwards, and a status pushed once is not
pushed again.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from b24sms.adapters import queues, store
from b24sms.adapters.bitrix import BitrixError, OperationTimeLimit, PortalUnavailable
from b24sms.adapters.bitrix.client import BATCH_LIMIT, BitrixClient
from b24sms.adapters.bitrix.tokens import client_for
from b24sms.adapters.config import get_settings
from b24sms.domain import bitrix_statuses, stats
from b24sms.domain.models import Message, Portal
from b24sms.usecases import delivery_watch, portal_jobs, push_turn, replies, timeline
from b24sms.usecases.push_turn import Key

logger = Logger(child=True)

METHOD = "messageservice.message.status.update"
TEST_PREFIX = "test-"  # message ids of the application page's test SMS (page.send_test)
DROP_CODES = frozenset({"ERROR_MESSAGE_NOT_FOUND"})
# Portals whose batch refused messageservice methods: single calls from then on (per process).
_NO_BATCH: set[str] = set()


DRAIN_LIMIT = 500  # a portal's pending statuses pushed per drain (10 batch calls)
PORTAL_WORKERS = 8  # portals of one receive pushed at once
PORTAL_BUDGET = 10.0  # seconds a portal may take in one receive; what is left waits for the next
BUDGET_MARGIN = 5.0  # seconds kept before the Lambda's own timeout
CONNECT_TIMEOUT = 1.0  # a portal that does not take the connection within this is down for now
# Coalescing (a portal pushed less than its linger ago gets only full batches of 50): push_turn.py.
# A final status a record carries, written less than this many seconds before the index was read, may
# not be in the index yet (eventually consistent; Lambdas' clocks): it waits for a portal token.
INDEX_LAG = 2.0


@dataclass
class PushReport:
    pushed: list[Key] = field(default_factory=list)
    dropped: list[Key] = field(default_factory=list)
    failed: list[Key] = field(default_factory=list)  # to retry later
    calls: int = 0
    finals: list[Message] = field(default_factory=list)  # final statuses the portal now has: the day counters
    retry_after: float = 0.0  # the portal said when to come back (OPERATION_TIME_LIMIT), in seconds
    deferred_portals: dict[str, float] = field(default_factory=dict)  # portal -> its retry_after (0: its own back-off)
    more: set[str] = field(default_factory=set)  # portals with more pending than one drain takes
    later: list[Key] = field(default_factory=list)  # not pushed yet, on purpose: coalescing or another drain
    waiting: dict[str, float] = field(default_factory=dict)  # portal -> seconds its ``later`` records wait

    def merge(self, other: PushReport) -> None:
        self.pushed += other.pushed
        self.dropped += other.dropped
        self.failed += other.failed
        self.calls += other.calls
        self.finals += other.finals
        self.retry_after = max(self.retry_after, other.retry_after)
        self.deferred_portals.update(other.deferred_portals)
        self.more |= other.more
        self.later += other.later
        self.waiting.update(other.waiting)


def push(keys: list[Key], deadline: float | None = None, finals: dict[Key, tuple[int, float]] | None = None) -> PushReport:
    """Push what the tokens ``keys`` name, each portal drained on its own, in parallel, until
    ``deadline`` (``time.monotonic()``; default ``PORTAL_BUDGET`` from now). ``finals``: the final
    statuses records carry, (rank, written at) by key: those messages are not read (``_pending``)."""
    tokens = list(dict.fromkeys(keys))
    by_portal: dict[str, list[str]] = defaultdict(list)
    for member_id, message_id in tokens:
        by_portal[member_id].append(message_id)
    carried = {k: v for k, v in (finals or {}).items() if k in tokens and k[1]}
    found = store.messages.get_messages([k for k in tokens if k[1] and k not in carried])
    for key, (rank, _) in carried.items():  # what is pushed comes from the index (_pending)
        found.setdefault(key, Message(key[0], key[1], status_rank=rank))
    written = {k: at for k, (_, at) in carried.items() if found[k].status_rank == carried[k][0]}
    deadline = time.monotonic() + PORTAL_BUDGET if deadline is None else deadline
    report = PushReport()
    if len(by_portal) == 1:
        [(member_id, ids)] = by_portal.items()
        report.merge(_drain(member_id, ids, found, deadline, written))
    else:
        with ThreadPoolExecutor(max_workers=min(PORTAL_WORKERS, len(by_portal))) as pool:
            # Each portal in a copy of this invocation's context (what it holds goes with the work).
            futures = [
                pool.submit(contextvars.copy_context().run, _drain, member_id, ids, found, deadline, written)
                for member_id, ids in by_portal.items()
            ]
            for future in futures:
                report.merge(future.result())
    _count(report)
    return report


def _count(report: PushReport) -> None:
    """The batch's final statuses into the day counters: one ADD per portal-day (stats.py)."""
    try:
        seen: dict[tuple[str, str], dict[str, int]] = {}
        store.counters.add_day_counts(stats.tally(report.finals), seen)
        delivery_watch.watch(seen)  # the admins told when the last hour's delivery rate falls (admin_alerts)
    except Exception:  # statistics must never hold back statuses
        logger.exception("day counters not updated", extra={"count": len(report.finals)})


def _drain(
    member_id: str, ids: list[str], found: dict[Key, Message], deadline: float, carried: dict[Key, float] | None = None
) -> PushReport:
    """One portal's push; whatever goes wrong stays with this portal: its keys are deferred."""
    report = PushReport()
    named = [(member_id, i) for i in ids if i]
    try:
        _push_portal(member_id, ids, found, deadline, report, carried or {})
    except Exception:  # one portal's trouble must not hold back the others' statuses
        logger.exception("status push failed", extra={"member_id": member_id})
        done = set(report.pushed) | set(report.dropped) | set(report.failed) | set(report.later)
        report.failed.extend(k for k in named if k not in done)
        report.deferred_portals.setdefault(member_id, 0.0)
    return report


def _pending(
    member_id: str, ids: list[str], found: dict[Key, Message], report: PushReport, carried: dict[Key, float] | None = None
) -> list[Message]:
    """The portal's statuses to push: the named messages (read consistently) and, when any of them
    still needs a push or the token names only the portal, the portal's pending index entries.

    A named message whose record carried its final status (``carried``: key -> when it was written)
    was not read: it is pushed from its index entry. Not there, it was pushed already, unless it was
    written less than ``INDEX_LAG`` ago (the index may not have it yet) or the index holds more than
    one drain takes: then it waits for a portal token, which drains it from the index. So it is never
    pushed twice from a stale record, and never lost (it stays in the index until ``mark_pushed``)."""
    carried = carried or {}
    named = {(member_id, i): found[(member_id, i)] for i in ids if i and (member_id, i) in found}
    pending = {k: m for k, m in named.items() if m.status_rank > m.pushed_rank}
    if pending or "" in ids:
        started = time.time()
        drained, more = store.pushes.pending_for_portal(member_id, DRAIN_LIMIT)
        if more:
            report.more.add(member_id)
        index = {(m.member_id, m.message_id): m for m in drained}
        for key, message in index.items():
            if (key not in named or key in carried) and message.status_rank > message.pushed_rank:
                pending[key] = message
        for key in [k for k in carried if k in named]:
            entry = index.get(key)
            if entry is not None and entry.status_rank >= named[key].status_rank:
                continue  # pushed from its index entry (above), if the portal does not have it yet
            pending.pop(key, None)
            if entry is not None or more or started - carried[key] < INDEX_LAG:
                push_turn.wait(member_id, [named[key]], push_turn.TURN_WAIT, report)
    return list(pending.values())


def _push_portal(
    member_id: str, ids: list[str], found: dict[Key, Message], deadline: float, report: PushReport, carried: dict[Key, float]
) -> None:
    turn = None
    named = [m for i in ids if (m := found.get((member_id, i))) is not None and m.status_rank > m.pushed_rank]
    if named and "" not in ids:
        turn = store.limits.push_turn(member_id)
        if push_turn.covered_by_a_token(turn, time.time()):
            # They would wait, and a token on its way drains them: no Query, no portal read now.
            report.later.extend((m.member_id, m.message_id) for m in named)
            return
    pending = _pending(member_id, ids, found, report, carried)
    jobs_due = "" in ids  # the portal's token: its jobs (portal_jobs) are made after its statuses
    if not pending and not jobs_due:
        return
    portal = store.portals.get_portal(member_id)
    if portal is None or not portal.installed:
        for message in pending:
            store.pushes.mark_pushed(message.member_id, message.message_id, message.status_rank, "portal uninstalled")
            report.dropped.append((message.member_id, message.message_id))
        if pending:  # (its jobs, if any, expire: store.jobs)
            logger.warning("statuses dropped: portal uninstalled", extra={"member_id": member_id, "count": len(pending)})
        return
    for message in [m for m in pending if m.message_id.startswith(TEST_PREFIX)]:  # the page's test SMS: no portal message
        _done(message, report)
    pending = [m for m in pending if not m.message_id.startswith(TEST_PREFIX)]
    if not pending and not jobs_due:
        return
    turn = turn or store.limits.push_turn(member_id)
    pending = push_turn.decide(member_id, pending, report, turn, token=jobs_due)
    if not pending and (not jobs_due or member_id in report.waiting):
        return
    owner = uuid.uuid4().hex
    until = time.time() + max(deadline - time.monotonic(), 0.0) + BUDGET_MARGIN
    if not store.limits.take_push_turn(member_id, owner, until):
        push_turn.wait(member_id, pending, push_turn.TURN_WAIT, report, token=jobs_due)  # another drain took it
        return
    client = client_for(portal, max_wait=max(deadline - time.monotonic(), 0.0), fail_fast=True)
    given = len(report.pushed) + len(report.dropped)
    try:
        operator_replies = [m for m in pending if m.code == replies.OPENLINES_CODE]
        if operator_replies:
            pending = [m for m in pending if m.code != replies.OPENLINES_CODE]
            _push_replies(client, member_id, operator_replies, deadline, report)
        for start in range(0, len(pending), BATCH_LIMIT):
            chunk = pending[start : start + BATCH_LIMIT]
            left = deadline - time.monotonic()
            try:
                if left <= 0:  # out of this receive's time: the rest rides the next one
                    raise PortalUnavailable("PUSH_BUDGET_SPENT", "the portal's time in this receive is spent", 0, METHOD)
                client.timeout = (min(CONNECT_TIMEOUT, left), left)
                _push_chunk(client, member_id, chunk, report)
            except BitrixError as exc:
                # Portal down, slow, throttling or out of operating time: everything left waits in the queue.
                logger.warning(
                    "status push deferred", extra={"member_id": member_id, "error": exc.code, "count": len(pending) - start}
                )
                report.failed.extend((m.member_id, m.message_id) for m in pending[start:])
                wait = exc.reset_at - time.time() if isinstance(exc, OperationTimeLimit) else 0.0
                report.retry_after = max(report.retry_after, wait)
                report.deferred_portals[member_id] = max(report.deferred_portals.get(member_id, 0.0), wait)
                break
        ended = [timeline.ended(portal, m, portal.timeline_delivered) for m in report.finals]  # on the CRM items
        if (jobs_due or any(ended)) and member_id not in report.deferred_portals:
            _jobs(client, portal, deadline, report, jobs_due)
        elif any(ended):  # kept, but this turn is over: the portal's token brings them
            queues.enqueue_portal_push(member_id)
    finally:
        report.calls += client.requests_made
        try:
            pushed = len(report.pushed) + len(report.dropped) > given
            store.limits.end_push_turn(member_id, owner, pushed=pushed, linger=push_turn.linger_after(turn))
        except Exception:  # the turn then ends when it runs out
            logger.exception("push turn not ended", extra={"member_id": member_id})


def _jobs(client: BitrixClient, portal: Portal, deadline: float, report: PushReport, token: bool) -> None:
    """The portal's jobs, in its turn after its statuses (portal_jobs): a transient error defers the
    portal's token with its own back-off; more than one drain takes brings the token back at once.
    Without the portal's token in this receive (a failure's entries made at once), a token is queued
    for what is left, so no job waits without one."""
    done = portal_jobs.drain(client, portal, deadline, store.jobs)
    if done.deferred is not None:
        logger.warning("portal jobs deferred", extra={"member_id": portal.member_id, "error": done.deferred.code})
        if token:
            report.deferred_portals.setdefault(portal.member_id, 0.0)
        else:
            queues.enqueue_portal_push(portal.member_id, retry_delay(1))
    elif done.left:
        if token:
            report.more.add(portal.member_id)
        else:
            queues.enqueue_portal_push(portal.member_id)


def _push_replies(
    client: BitrixClient, member_id: str, operator_replies: list[Message], deadline: float, report: PushReport
) -> None:
    """Operators' Open Lines replies: the chat shows "delivered" once the carrier says so, and a
    reply that failed gets a message in the chat saying why (replies.push_reply_status)."""
    for message in operator_replies:
        left = deadline - time.monotonic()
        if left <= 0:
            report.failed.append((message.member_id, message.message_id))
            report.deferred_portals.setdefault(member_id, 0.0)
            continue
        client.timeout = (min(CONNECT_TIMEOUT, left), left)
        try:
            replies.push_reply_status(client, message)
        except BitrixError as exc:
            if exc.transient:
                logger.warning("reply status deferred", extra={"member_id": member_id, "error": exc.code})
                report.failed.append((message.member_id, message.message_id))
                report.deferred_portals.setdefault(member_id, 0.0)
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
    # Counted once: only the push whose conditional write raised pushed_rank (a duplicate queue
    # entry, e.g. one the recovery sweep added, may be pushing the same status at the same time).
    if (
        store.pushes.mark_pushed(message.member_id, message.message_id, message.status_rank)
        and message.status in bitrix_statuses.FINAL
    ):
        report.finals.append(message)
    report.pushed.append((message.member_id, message.message_id))


def _drop(message: Message, error: BitrixError, report: PushReport) -> None:
    won = store.pushes.mark_pushed(
        message.member_id, message.message_id, bitrix_statuses.rank(bitrix_statuses.FAILED), error.code
    )
    if won and message.status in bitrix_statuses.FINAL:
        report.finals.append(message)
    report.dropped.append((message.member_id, message.message_id))
    logger.warning("status dropped", extra={"message_id": message.message_id, "error": error.code})


def retry_delay(receives: int) -> int:
    """Seconds before a deferred status is tried again: ``PUSH_RETRY_BASE`` (5 s) doubling per receive,
    at most ``PUSH_RETRY_CAP`` (an hour). With the status queue's 50 receives the last try comes about
    40 h after the first: a portal down for a day loses no status (tests/unit/test_push_outage.py)."""
    settings = get_settings()
    return int(min(settings.push_retry_base * 2 ** max(receives - 1, 0), settings.push_retry_cap))
