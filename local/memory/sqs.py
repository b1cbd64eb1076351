"""SQS standard queues in memory, with the semantics the functions rely on: a received message is
invisible for the queue's visibility timeout (in flight), ``ChangeMessageVisibility`` sets when it comes
back, each receive counts (``ApproximateReceiveCount``), a message received more than
``max_receives`` times goes to the dead-letter queue instead, ``DelaySeconds`` on send. Plus the client
the code calls (``aws.sqs()``), which counts its requests."""

from __future__ import annotations

import heapq
import itertools
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from local.memory.clock import SimClock

REGION_ACCOUNT = "us-east-1:123456789012"


@dataclass
class SqsMessage:
    message_id: str
    body: str
    visible_at: float
    receives: int = 0
    handle: str = ""
    deleted: bool = False
    sent_at: float = 0.0


class SimQueue:
    def __init__(self, name: str, clock: SimClock, visibility_timeout: float, max_receives: int) -> None:
        self.name, self.clock = name, clock
        self.visibility_timeout, self.max_receives = visibility_timeout, max_receives
        self.url = f"https://sqs.sim/{name}"
        self.arn = f"arn:aws:sqs:{REGION_ACCOUNT}:{name}"
        self.messages: dict[str, SqsMessage] = {}
        self.by_handle: dict[str, SqsMessage] = {}
        self.dlq: list[SqsMessage] = []
        self._ready: list[tuple[float, int, str, str]] = []  # (visible_at, seq, message id, handle when queued)
        self._seq = itertools.count()
        self.in_flight: set[str] = set()  # received and not deleted (visible again or not: see in_flight_now)
        self.peak_in_flight = 0
        self.peak_in_flight_at = 0.0

    def _schedule(self, message: SqsMessage) -> None:
        heapq.heappush(self._ready, (message.visible_at, next(self._seq), message.message_id, message.handle))

    def send(self, body: str, delay: float = 0.0) -> str:
        now = self.clock.monotonic()
        message = SqsMessage(f"{self.name}-{next(self._seq)}", body, now + delay, sent_at=now)
        self.messages[message.message_id] = message
        self._schedule(message)
        return message.message_id

    def visible(self) -> int:
        """Messages that a receive would return now (a cheap upper bound: stale heap entries included)."""
        now = self.clock.monotonic()
        return sum(1 for entry in self._ready if entry[0] <= now)

    def next_visible(self) -> float | None:
        while self._ready:
            at, _, mid, handle = self._ready[0]
            message = self.messages.get(mid)
            if message is None or message.handle != handle or message.visible_at != at:
                heapq.heappop(self._ready)  # deleted, or its visibility changed since
                continue
            return at
        return None

    def receive(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` visible messages as Lambda's SQS event records; each is in flight from now."""
        now = self.clock.monotonic()
        records: list[dict[str, Any]] = []
        while len(records) < limit:
            at = self.next_visible()
            if at is None or at > now:
                break
            _, _, mid, _ = heapq.heappop(self._ready)
            message = self.messages[mid]
            if message.receives >= self.max_receives:  # redrive: it never reaches the consumer again
                del self.messages[mid]
                self.in_flight.discard(mid)
                self.dlq.append(message)
                continue
            message.receives += 1
            message.handle = f"{mid}#{message.receives}"
            message.visible_at = now + self.visibility_timeout
            self.by_handle[message.handle] = message
            self.in_flight.add(mid)
            self._schedule(message)
            records.append(
                {
                    "messageId": mid,
                    "receiptHandle": message.handle,
                    "body": message.body,
                    "attributes": {"ApproximateReceiveCount": str(message.receives)},
                    "eventSourceARN": self.arn,
                }
            )
        return records

    def change_visibility(self, handle: str, seconds: float) -> None:
        message = self.by_handle.get(handle)
        if message is None or message.deleted or message.handle != handle:
            raise ValueError(f"ReceiptHandleIsInvalid: {handle}")
        message.visible_at = self.clock.monotonic() + seconds
        self._schedule(message)

    def delete(self, handle: str) -> None:
        message = self.by_handle.pop(handle, None)
        if message is None or message.handle != handle:
            return  # a stale handle: SQS ignores it when the message was received again
        message.deleted = True
        self.messages.pop(message.message_id, None)
        self.in_flight.discard(message.message_id)

    def in_flight_now(self) -> int:
        """SQS's in-flight count: received, not deleted, not visible yet (a delayed redelivery counts)."""
        now = self.clock.monotonic()
        count = sum(1 for mid in self.in_flight if self.messages[mid].visible_at > now)
        if count > self.peak_in_flight:
            self.peak_in_flight, self.peak_in_flight_at = count, now
        return count

    def __len__(self) -> int:
        return len(self.messages)


class SimSqsClient:
    """What ``b24sms.adapters.aws.sqs()`` returns in the simulation; ``requests`` counts by action."""

    def __init__(self, clock: SimClock, queues: list[SimQueue], latency: float = 0.0) -> None:
        self.clock, self.latency = clock, latency
        self.queues = {q.url: q for q in queues}
        self.requests: Counter[str] = Counter()

    def _queue(self, url: str) -> SimQueue:
        self.clock.sleep(self.latency)
        return self.queues[url]

    def send_message(self, QueueUrl: str, MessageBody: str, DelaySeconds: int = 0) -> dict[str, Any]:
        self.requests["SendMessage"] += 1
        return {"MessageId": self._queue(QueueUrl).send(MessageBody, DelaySeconds)}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.requests["SendMessageBatch"] += 1
        queue = self._queue(QueueUrl)
        for entry in Entries:
            queue.send(entry["MessageBody"], entry.get("DelaySeconds", 0))
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:
        self.requests["ChangeMessageVisibility"] += 1
        self._queue(QueueUrl).change_visibility(ReceiptHandle, VisibilityTimeout)

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        self.requests["GetQueueUrl"] += 1
        return {"QueueUrl": next(url for url, q in self.queues.items() if q.name == QueueName)}


def body_of(record: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(record["body"])
    return data
