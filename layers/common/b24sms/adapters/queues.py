"""The SQS queues between the steps: outbound (handler -> dispatch), status (-> push), and the sender
sync's (one message per portal to sync, and the enumeration's continuation)."""

from __future__ import annotations

import json
from typing import Any

from b24sms.adapters import aws, config
from b24sms.adapters.config import get_settings


def _body(member_id: str, message_id: str) -> str:
    return json.dumps({"member_id": member_id, "message_id": message_id}, separators=(",", ":"))


def parse_body(body: str, *, portal_token: bool = False) -> tuple[str, str]:
    """(member_id, message_id). With ``portal_token`` (the status queue) a body may name only the
    portal, ``{"member_id": ...}``: "this portal has statuses to push"; its message_id is then ""."""
    data: Any = json.loads(body)
    if portal_token and "message_id" not in data:
        return str(data["member_id"]), ""
    return str(data["member_id"]), str(data["message_id"])


def enqueue_dispatch(member_id: str, message_id: str, delay_seconds: int = 0) -> None:
    aws.sqs().send_message(
        QueueUrl=get_settings().outbound_queue_url,
        MessageBody=_body(member_id, message_id),
        DelaySeconds=max(0, min(delay_seconds, 900)),
    )


def enqueue_push(member_id: str, message_id: str, final: tuple[int, float] | None = None) -> None:
    """A status queue record naming a message whose status moved; ``final``: (its final status's rank,
    when it was written), so the push needs no read of it (``final_of``; usecases/push.py)."""
    data: dict[str, Any] = {"member_id": member_id, "message_id": message_id}
    if final is not None:
        data["final"] = [final[0], round(final[1], 3)]
    body = json.dumps(data, separators=(",", ":"))
    aws.sqs().send_message(QueueUrl=get_settings().status_queue_url, MessageBody=body)


MAX_RANK = 100  # a status rank a record may carry (domain/bitrix_statuses ranks are single digits)


def final_of(body: str) -> tuple[int, float] | None:
    """The (rank, written at) a status queue record carries for a final status (``enqueue_push``); None
    when it carries none or anything out of bounds (a record is untrusted: the push then reads)."""
    try:
        data: Any = json.loads(body)
        rank, at = data["final"]
    except (KeyError, ValueError, TypeError):
        return None
    if type(rank) is not int or not 0 < rank <= MAX_RANK or type(at) not in (int, float) or not 0 < at < 1e11:
        return None
    return rank, float(at)


BATCH = 10  # SendMessageBatch's limit


def send_batch(queue_url: str, bodies: list[dict[str, Any]], delays: list[int] | None = None) -> int:
    """Send ``bodies`` (JSON; ``delays``: each one's DelaySeconds) in SendMessageBatch calls of ten; an
    entry SQS refuses is sent once more, and still refused it raises (the caller's invocation fails and
    is retried). Returns the number of requests made."""
    requests = 0
    for start in range(0, len(bodies), BATCH):
        entries: list[dict[str, Any]] = []
        for i, body in enumerate(bodies[start : start + BATCH]):
            entries.append({"Id": str(i), "MessageBody": json.dumps(body, separators=(",", ":"))})
            if delays:
                entries[-1]["DelaySeconds"] = max(0, min(delays[start + i], 900))
        for attempt in range(2):
            requests += 1
            failed = {f["Id"] for f in aws.sqs().send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])}
            entries = [e for e in entries if e["Id"] in failed]
            if not entries:
                break
            if attempt:
                raise RuntimeError(f"SQS refused {len(entries)} of a batch of messages twice")
    return requests


def send_later(queue_url: str, body: dict[str, Any], delay_seconds: int) -> None:
    """One message (JSON), delivered after ``delay_seconds`` (SQS allows at most 900)."""
    aws.sqs().send_message(
        QueueUrl=queue_url, MessageBody=json.dumps(body, separators=(",", ":")), DelaySeconds=max(0, min(delay_seconds, 900))
    )


def enqueue_syncs(bodies: list[dict[str, Any]]) -> int:
    """The sender sync's messages (``{"member_id"}`` or ``{"scan_from"}``); returns the requests made."""
    return send_batch(get_settings().sync_queue_url, bodies)


def enqueue_reconciles(bodies: list[dict[str, Any]]) -> int:
    """The reconciler's messages, one per carrier account (usecases/reconcile.py); returns the requests made."""
    return send_batch(config.reconcile_queue_url(), bodies)


def enqueue_portal_push(member_id: str, delay_seconds: int = 0) -> None:
    """Tell the push a portal has statuses (or jobs) waiting (it drains them from ``by-push-pending``),
    after ``delay_seconds`` (at most SQS's 900)."""
    body = json.dumps({"member_id": member_id}, separators=(",", ":"))
    aws.sqs().send_message(
        QueueUrl=get_settings().status_queue_url, MessageBody=body, DelaySeconds=max(0, min(delay_seconds, 900))
    )


def enqueue_portal_waits(seconds_by_portal: dict[str, int]) -> int:
    """One delayed token per portal, ``{member_id}`` after its seconds: it stands in for the status
    queue's records that wait on purpose (coalescing). Returns the requests made (ten portals each)."""
    bodies = [{"member_id": member_id} for member_id in seconds_by_portal]
    return send_batch(get_settings().status_queue_url, bodies, list(seconds_by_portal.values()))


def delay_redelivery(queue_arn: str, receipt_handle: str, seconds: int) -> None:
    """Back off: the failed SQS message becomes visible again only after ``seconds``."""
    aws.sqs().change_message_visibility(
        QueueUrl=_queue_url(queue_arn), ReceiptHandle=receipt_handle, VisibilityTimeout=max(0, min(seconds, 43200))
    )


def _queue_url(queue_arn: str) -> str:
    """The URL of the queue a record came from, without asking SQS (no role may sqs:GetQueueUrl): the
    configured URL of that queue (locally moto's), else the one its ARN implies."""
    parts = queue_arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs" or not all(parts[1:]):
        raise ValueError(f"{queue_arn!r} is not an SQS queue ARN")
    _, partition, _, region, account, name = parts
    settings = get_settings()
    for url in (settings.outbound_queue_url, settings.status_queue_url, settings.sync_queue_url):
        if url.rstrip("/").rsplit("/", 1)[-1] == name:
            return url
    suffix = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{suffix}/{account}/{name}"
