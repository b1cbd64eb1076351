"""Where a message whose queue entry was lost gets queued again.

The handler records a message and then queues it; if the queue call fails (or the Lambda dies in
between), Bitrix24 will not call again, and the message would wait forever. Every few minutes the
recovery function looks for messages still waiting after ``RECOVER_AFTER`` seconds and queues them once
more. That is safe: dispatch claims each message with a conditional write, so a message queued twice is
still sent once.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from b24sms.adapters import queues, store

logger = Logger(child=True)


def requeue_stale(older_than: int) -> int:
    requeued = 0
    for member_id, message_id in store.messages.stale_pending(older_than):
        if store.messages.touch_pending(member_id, message_id):
            queues.enqueue_dispatch(member_id, message_id)
            requeued += 1
    if requeued:
        logger.warning("waiting messages queued again", extra={"count": requeued})
    return requeued
