"""A token bucket shared by every Lambda, kept in DynamoDB (LimitsTable).

Bitrix24 allows a portal about 2 REST requests per second with a burst of 50 (a leaky bucket), and
carriers cap how fast we may send. Any number of functions may run at once, so the budget has to live
outside them: each call takes a token with an optimistic conditional write (read the bucket, refill it
for the time passed, write it back only if nobody else wrote in between). When the bucket is empty the
caller sleeps for the next token, up to ``max_wait``; beyond that it raises ``Throttled`` so the work
goes back to its queue instead of holding a Lambda.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from b24sms.adapters.store._table import guarded, table
from b24sms.domain.errors import Throttled


class TokenBucket:
    def __init__(
        self,
        key: str,
        rate: float,
        burst: float,
        *,
        max_wait: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.key = key
        self.rate = rate
        self.burst = burst
        self.max_wait = max_wait
        self.sleep = sleep
        self.clock = clock

    def _table(self) -> Any:
        return table("limits_table")

    def acquire(self) -> None:
        """Take one token, waiting for it if that takes at most ``max_wait`` seconds in all."""
        waited = 0.0
        table = self._table()
        while True:
            item = table.get_item(Key={"bucket": self.key}, ConsistentRead=True).get("Item")
            now = self.clock()
            if item:
                last = Decimal(str(item["at"]))
                tokens = min(self.burst, float(item["tokens"]) + max(0.0, now - float(last)) * self.rate)
            else:
                last, tokens = None, float(self.burst)
            if tokens >= 1:
                new_item = {"bucket": self.key, "tokens": Decimal(f"{tokens - 1:.6f}"), "at": Decimal(f"{now:.6f}")}
                if last is None:
                    guard: dict[str, Any] = {
                        "ConditionExpression": "attribute_not_exists(#b)",
                        "ExpressionAttributeNames": {"#b": "bucket"},
                    }
                else:
                    guard = {
                        "ConditionExpression": "#at = :last",
                        "ExpressionAttributeNames": {"#at": "at"},
                        "ExpressionAttributeValues": {":last": last},
                    }
                if guarded(table.put_item, Item=new_item, **guard) is not None:
                    return
                continue  # someone else took a token meanwhile: look again
            wait = (1 - tokens) / self.rate
            if waited + wait > self.max_wait:
                raise Throttled(self.key, wait)
            self.sleep(wait)
            waited += wait


# -- a portal's status push: one drain at a time, and when it last pushed ------------------------------
class PushTurn(NamedTuple):
    busy_until: float  # another drain of the portal holds it until then (0: nobody)
    last_push: float  # when the portal was last given statuses (0: never)
    wake_at: float = 0.0  # a delayed portal token is due then (status_queue.py): others need not send one
    linger: float = 0.0  # seconds the portal waits after a push before a small batch (domain/linger.py; 0: the base)


def _push_key(member_id: str) -> dict[str, str]:
    return {"bucket": f"push#{member_id}"}


def push_turn(member_id: str) -> PushTurn:
    """Whether a drain of the portal is in flight, and when it last pushed (one consistent read)."""
    item = table("limits_table").get_item(Key=_push_key(member_id), ConsistentRead=True).get("Item") or {}
    return PushTurn(
        float(item.get("busy_until", 0)),
        float(item.get("last_push", 0)),
        float(item.get("wake_at", 0)),
        float(item.get("linger", 0)),
    )


def set_push_wake(member_id: str, at: float) -> None:
    """A delayed token for the portal's push is due at ``at`` (one UpdateItem per token sent)."""
    table("limits_table").update_item(
        Key=_push_key(member_id),
        UpdateExpression="SET wake_at = :at",
        ExpressionAttributeValues={":at": Decimal(f"{at:.3f}")},
    )


def take_push_turn(member_id: str, owner: str, until: float) -> bool:
    """Hold the portal's push until ``until`` (or ``end_push_turn``); False when another drain holds it."""
    at = Decimal(f"{time.time():.3f}")
    response = guarded(
        table("limits_table").update_item,
        Key=_push_key(member_id),
        UpdateExpression="SET busy_until = :until, push_owner = :o",
        ConditionExpression="attribute_not_exists(busy_until) OR busy_until < :now",
        ExpressionAttributeValues={":until": Decimal(f"{until:.3f}"), ":o": owner, ":now": at},
    )
    return response is not None


def end_push_turn(member_id: str, owner: str, pushed: bool, linger: float = 0.0) -> None:
    """Let the portal's next drain in; ``pushed``: it was given statuses now (the coalescing clock), and
    ``linger`` is its linger from now on (in the same write)."""
    values: dict[str, Any] = {":o": owner}
    expression = "REMOVE busy_until, push_owner"
    if pushed:
        expression = "SET last_push = :t, linger = :l " + expression
        values[":t"] = Decimal(f"{time.time():.3f}")
        values[":l"] = Decimal(f"{linger:.3f}")
    guarded(
        table("limits_table").update_item,
        Key=_push_key(member_id),
        UpdateExpression=expression,
        ConditionExpression="push_owner = :o",
        ExpressionAttributeValues=values,
    )
