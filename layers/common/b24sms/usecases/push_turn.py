"""When a portal's statuses go: the push's turn and linger decision (usecases/push.py asks it).

One drain of a portal at a time (its push turn in LimitsTable, ``store.limits``). A portal pushed less
than its linger ago gets only full batches of 50; the rest waits for one delayed portal token
(status_queue.py sends it, ``note_wakes`` records it), so a campaign's statuses go 50 to a call while an
idle portal's first status goes at once. The linger is the ``PUSH_LINGER`` setting; while a portal's
statuses keep coming it doubles up to ``PUSH_LINGER_MAX`` (the rule: domain/linger.py)."""

from __future__ import annotations

import time
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from b24sms.adapters import store
from b24sms.adapters.bitrix.client import BATCH_LIMIT
from b24sms.adapters.config import push_linger, push_linger_max
from b24sms.domain import linger as lingering
from b24sms.domain.models import Message

logger = Logger(child=True)

PUSH_LINGER = push_linger()
PUSH_LINGER_MAX = push_linger_max()
TURN_WAIT = 1.0  # seconds a record waits when another drain of its portal is in flight
TOKEN_SLACK = 0.5  # a portal token arriving this early still counts as the one due (Lambdas' clocks)

Key = tuple[str, str]  # (member_id, message_id); message_id "" in a portal's token


class Waits(Protocol):
    """What a drain reports of the records that wait (push.PushReport)."""

    later: list[Key]  # not pushed yet, on purpose
    waiting: dict[str, float]  # portal -> seconds its waiting records wait (a delayed token is due)


def covered_by_a_token(turn: Any, now: float) -> bool:
    """A delayed token is on its way and the named statuses would wait for it anyway: the drain need
    not look (no Query, no portal read)."""
    linger = lingering.current(turn.linger, PUSH_LINGER)
    return bool(turn.wake_at > now and (turn.busy_until > now or now - turn.last_push < linger))


def decide(member_id: str, pending: list[Message], waits: Waits, turn: Any, token: bool = False) -> list[Message]:
    """What of ``pending`` to push now: nothing while another drain of the portal is in flight; only
    full batches of 50 when the portal was pushed less than its linger ago; everything when it is
    idle. What waits is in ``waits.later``; ``waits.waiting`` says when the portal needs a token back
    (also a token with jobs, when another drain holds the portal), unless one is already on its way
    (``wake_at``; for a token, another one due later)."""
    now = time.time()
    # A token's own wake_at is about now when it arrives: it is covered only by another one due later.
    covered = turn.wake_at > now + (TOKEN_SLACK if token else 0.0)
    if turn.busy_until > now:
        wait(member_id, pending, TURN_WAIT, waits, covered, token)
        return []
    since = now - turn.last_push
    linger = lingering.current(turn.linger, PUSH_LINGER)
    if since >= linger:
        return pending
    full = len(pending) // BATCH_LIMIT * BATCH_LIMIT
    wait(member_id, pending[full:], linger - since, waits, covered)
    return pending[:full]


def wait(
    member_id: str, messages: list[Message], seconds: float, waits: Waits, covered: bool = False, token: bool = False
) -> None:
    """``messages`` wait ``seconds`` (a token for the portal then, unless ``covered``)."""
    if messages or token:
        waits.later.extend((m.member_id, m.message_id) for m in messages)
        if not covered:
            waits.waiting[member_id] = max(waits.waiting.get(member_id, 0.0), seconds)


def linger_after(turn: Any) -> float:
    """The portal's linger from a push now on (stored by the write that ends its turn)."""
    return lingering.after_push(turn.linger, time.time() - turn.last_push, PUSH_LINGER, PUSH_LINGER_MAX)


def note_wakes(seconds_by_portal: dict[str, int], sent_at: float) -> None:
    """Tokens sent at ``sent_at`` (read before the send, so that a token never arrives before its
    ``wake_at``) are on their way to these portals (status_queue.py): their other records need not
    send one before then. A failure here costs only extra tokens."""
    for member_id, seconds in seconds_by_portal.items():
        if seconds > 0:
            try:
                store.limits.set_push_wake(member_id, sent_at + seconds)
            except Exception:
                logger.exception("push wake not recorded", extra={"member_id": member_id})
