"""moto's server at fleet size: four of its costs that grow with a queue's depth or every request,
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
  ``isdir``) twice a request: here the list is read once;
- every DynamoDB answer is walked member by member against botocore's output shape (moto 5.2's
  ``ResponseSerializer``, with several attribute-name aliases tried per member): over a third of the
  time DynamoDB requests spent under the local stack's lock (``serialise_dynamodb``), which is what
  bounds the stack's throughput. A DynamoDB result is already a dict of the wire's own names and
  values (``dynamo_to_dict``), so here an item operation's is written as JSON directly (``dynamodb_json``: binary as
  base64, timestamps as epoch seconds, nulls left out, as the serializer does); errors and results of
  other services keep moto's serializer. ``tests/unit/test_moto_speed.py`` compares the two answers.

Only the local stack applies these (``local.moto_server._moto_app``); the product never runs on moto.
"""

from __future__ import annotations

import base64
import datetime
import enum
import functools
import json
import os
import time
from typing import Any

from moto.core import utils


def _unix_time(dt: datetime.datetime | None = None) -> float:
    return time.time() if dt is None else utils.unix_time(dt)


def _unix_time_millis(dt: datetime.datetime | None = None) -> float:
    return time.time() * 1000 if dt is None else utils.unix_time_millis(dt)


# The operations on items: their answers hold attribute values and counts only (no timestamps).
ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


def _plain(value: Any) -> Any:
    """A ``dynamo_to_dict`` result as the JSON protocol writes it."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def dynamodb_json(result: Any, members: Any = None) -> str:
    """The body of a DynamoDB answer, from moto's result dict: only the output shape's ``members``
    (moto adds some the API does not have)."""
    if members is not None and isinstance(result, dict):
        result = {k: v for k, v in result.items() if k in members}
    return json.dumps(_plain(result), separators=(",", ":"))


def quicken() -> None:
    """Apply the four replacements (idempotent)."""
    from moto import backends
    from moto.sqs import models

    models.unix_time = _unix_time  # type: ignore[attr-defined]
    models.unix_time_millis = _unix_time_millis  # type: ignore[attr-defined]

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = float(self.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > time.time())

    models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period  # type: ignore[method-assign]
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoResult

    check = bool(os.environ.get("MOTO_SPEED_CHECK"))  # every answer compared with moto's own (tests)

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name not in ITEM_OPERATIONS:  # tables' descriptions: moto's own
            return ActionResult.execute_result(self, context)
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        body = dynamodb_json(self.result, context.operation_model.output_shape.members)
        if check:
            status, _, theirs = ActionResult.execute_result(self, context)
            if (status, json.loads(theirs)) != (200, json.loads(body)):
                raise AssertionError(f"moto_speed: {context.operation_model.name} answered {body} for {theirs!r}")
        return 200, headers, body

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    if not hasattr(backends.list_of_moto_modules, "cache_info"):
        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = functools.cache(lambda: modules)  # type: ignore[assignment]
