"""Where a message or a status push whose queue entry was lost gets queued again.

The handler records a message and then queues it; if the queue call fails (or the Lambda dies in
between), Bitrix24 will not call again, and the message would wait forever. Every few minutes the
recovery function looks for messages still waiting after ``RECOVER_AFTER`` seconds and queues them once
more. That is safe: dispatch claims each message with a conditional write, so a message queued twice is
still sent once.

Statuses likewise: the write that advances a status puts the message in ``by-push-pending`` and the
write that records the push takes it out, so when queueing the push failed (SQS down, the function
killed in between) the status is still found. A message pending longer than ``PUSH_RECOVER_AFTER``
seconds gets its portal's push queued again (one token per portal: the push drains all of the portal's
pending statuses), then again after a growing interval (doubling, at most
``PUSH_RECOVER_CAP``), so a portal that is down for a day gets a few duplicates per status, not one per
sweep. A duplicate is harmless: the push function pushes the stored status, and only if the portal has
not seen it.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from b24sms.adapters import queues, store

logger = Logger(child=True)

PUSH_RECOVER_CAP = 4 * 3600  # the longest wait between two tries of one status, in seconds
PUSH_RECOVER_LIMIT = 400  # statuses looked at per sweep (every five minutes)


def requeue_stale(older_than: int) -> int:
    requeued = 0
    for member_id, message_id in store.pending.stale_pending(older_than):
        if store.pending.touch_pending(member_id, message_id):
            queues.enqueue_dispatch(member_id, message_id)
            requeued += 1
    if requeued:
        logger.warning("waiting messages queued again", extra={"count": requeued})
    return requeued


def push_retry_delay(older_than: int, tries: int) -> int:
    """Seconds until a status queued again for the ``tries``-th time is due once more."""
    return int(min(max(older_than, 60) * 2**tries, PUSH_RECOVER_CAP))


def requeue_unpushed(older_than: int, limit: int = PUSH_RECOVER_LIMIT) -> int:
    """Queue again the pushes of statuses the portal has not had for ``older_than`` seconds: ONE token
    per portal (the push drains the portal's pending statuses from the index); returns how many
    statuses were due. Each due status is taken for its next try (its own back-off) with a conditional
    write, so two sweeps never both queue it; messages whose status the portal has (dropped, or pushed
    by a racing push) only leave the index."""
    requeued = cleared = 0
    portals: set[str] = set()
    for item in store.pushes.unpushed(older_than, limit):
        if item.pushed_rank >= item.status_rank:
            cleared += store.pushes.clear_push_pending(item.member_id, item.message_id)
            continue
        due = store.now() + push_retry_delay(older_than, item.tries)
        if store.pushes.retry_push_later(item.member_id, item.message_id, item.since, due):
            portals.add(item.member_id)
            requeued += 1
    for member_id in sorted(portals):
        queues.enqueue_portal_push(member_id)
    if requeued or cleared:
        logger.warning("unpushed statuses queued again", extra={"count": requeued, "portals": len(portals), "cleared": cleared})
    return requeued
