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
from typing import Any

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
