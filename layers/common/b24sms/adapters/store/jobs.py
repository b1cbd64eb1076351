"""A portal's jobs: REST calls other than status pushes (CRM timeline entries, notifications), kept in
``ChatsTable`` under ``pk = job#<member_id>`` until they are made, one item a job (``sk``: the job's own
id, so adding the same job twice keeps one). The partition holds only what is still owed to the portal
(a job made or dropped is deleted), so the push reads a portal's jobs with one Query, as it reads its
statuses from ``by-push-pending``. A job expires (``expires_at``) after ``JOB_DAYS``, as long as the
status queue keeps a record: a portal that stays down longer loses it, as it would a status.

``calls`` (the REST calls still to make, in order) and ``data`` are kept as JSON text: a call's
parameters are any JSON, which DynamoDB's types would otherwise bend (numbers as Decimal)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from b24sms.adapters.config import get_settings
from b24sms.adapters.store._table import guarded, now, table

JOB_DAYS = 14

Call = tuple[str, dict[str, Any]]  # (method, params)


@dataclass(frozen=True)
class Job:
    job_id: str
    calls: list[Call]
    then: str = ""  # a follow-up (portal_jobs.FOLLOW_UPS) that makes the next calls from these calls' results
    data: dict[str, Any] = field(default_factory=dict)  # what the follow-up needs
    scope: str = ""  # the scope the calls need ("" none)
    attempts: int = 0
    since: int = 0


def enabled() -> bool:
    return bool(get_settings().chats_table)


def _pk(member_id: str) -> str:
    return f"job#{member_id}"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def add(member_id: str, job: Job) -> bool:
    """Keep ``job`` until it is made; False when a job of that id is already kept."""
    t = now()
    item = {
        "pk": _pk(member_id),
        "sk": job.job_id,
        "calls": _json([[m, p] for m, p in job.calls]),
        "then": job.then,
        "data": _json(job.data),
        "scope": job.scope,
        "attempts": 0,
        "since": t,
        "expires_at": t + JOB_DAYS * 86400,
    }
    return guarded(table("chats_table").put_item, Item=item, ConditionExpression="attribute_not_exists(pk)") is not None


def _job(item: dict[str, Any]) -> Job:
    return Job(
        job_id=str(item["sk"]),
        calls=[(str(m), dict(p)) for m, p in json.loads(str(item.get("calls") or "[]"))],
        then=str(item.get("then") or ""),
        data=dict(json.loads(str(item.get("data") or "{}"))),
        scope=str(item.get("scope") or ""),
        attempts=int(item.get("attempts") or 0),
        since=int(item.get("since") or 0),
    )


def pending(member_id: str, limit: int) -> list[Job]:
    """Up to ``limit`` of the portal's jobs (one consistent Query: a job added a moment ago is seen)."""
    from boto3.dynamodb.conditions import Key  # cold start: boto3 loads at the first table call, not at import

    page = table("chats_table").query(KeyConditionExpression=Key("pk").eq(_pk(member_id)), ConsistentRead=True, Limit=limit)
    return [_job(item) for item in page.get("Items", [])]


def progress(member_id: str, job_id: str, calls: list[Call], then: str, data: dict[str, Any]) -> None:
    """Some of the job's calls are made (or it has moved on to its follow-up): keep what is left."""
    table("chats_table").update_item(
        Key={"pk": _pk(member_id), "sk": job_id},
        UpdateExpression="SET calls = :c, #then = :t, #data = :d ADD attempts :one",
        ExpressionAttributeNames={"#then": "then", "#data": "data"},
        ExpressionAttributeValues={":c": _json([[m, p] for m, p in calls]), ":t": then, ":d": _json(data), ":one": 1},
    )


def finish(member_id: str, job_id: str) -> None:
    """The job is made (or dropped): it is owed no more."""
    table("chats_table").delete_item(Key={"pk": _pk(member_id), "sk": job_id})
