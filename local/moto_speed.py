"""moto's server at fleet size: three of its costs that grow with a queue's depth or every request,
removed without changing what it answers.

Measured on moto 5.2 with 2,000 messages in a queue (this machine): a ReceiveMessage of 10 took
2.2 s, a SendMessage 70 ms (11 ms on an empty queue), and every request spent 1.5 ms listing moto's
package directory. With 100 portals x 20 SMS the OutboundQueue holds that many, so the stack never
drained (issue #18 item 6). The causes, and what replaces them here:

- its SQS models read the clock through ``moto.core.utils.unix_time``/``unix_time_millis``, a
  datetime round trip (about 8 us) made for every message on every receive, send and attribute
  read: here ``time.time()``, the same number (it only matters under freezegun, which nothing that
  drives this server uses);
- ``receive_message`` checks each message it hands out against the queue's retention period by
  computing *every* queue attribute (three scans of the whole queue: ApproximateNumberOf*), i.e.
  O(messages received x queue depth): here the retention period is read from the queue itself;
- the request router lists moto's package directory (``backends.list_of_moto_modules``, ~150
  ``isdir``) twice a request: here the list is read once.

Only the local stack applies these (``local.moto_server._moto_app``); the product never runs on moto.
"""

from __future__ import annotations

import datetime
import functools
import time
from typing import Any

from moto.core import utils


def _unix_time(dt: datetime.datetime | None = None) -> float:
    return time.time() if dt is None else utils.unix_time(dt)


def _unix_time_millis(dt: datetime.datetime | None = None) -> float:
    return time.time() * 1000 if dt is None else utils.unix_time_millis(dt)


def quicken() -> None:
    """Apply the three replacements (idempotent)."""
    from moto import backends
    from moto.sqs import models

    models.unix_time = _unix_time  # type: ignore[attr-defined]
    models.unix_time_millis = _unix_time_millis  # type: ignore[attr-defined]

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = float(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    if not hasattr(backends.list_of_moto_modules, "cache_info"):
        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = functools.cache(lambda: modules)  # type: ignore[assignment]
